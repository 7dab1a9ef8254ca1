// A generator whose body recurses: the in-order walk of a binary search tree,
// written as the plain recursive function it is, handing out one key at a
// time. Between two values the body is suspended at whatever depth the walk
// had reached; no explicit stack of "where was I" is needed.
#include <cospace/generator.hpp>

#include <cstdio>
#include <memory>

struct node {
  int key;
  std::unique_ptr<node> left, right;
};

void insert(std::unique_ptr<node>& at, int key) {
  if (!at) at = std::make_unique<node>(node{key, nullptr, nullptr});
  else insert(key < at->key ? at->left : at->right, key);
}

void walk(const node* n, cospace::generator<int>::yielder& out) {
  if (n == nullptr) return;
  walk(n->left.get(), out);
  out.yield(n->key);  // suspends here, deep inside the recursion
  walk(n->right.get(), out);
}

int main() {
  std::unique_ptr<node> root;
  for (int key : {8, 3, 10, 1, 6, 14, 4, 7, 13}) insert(root, key);

  cospace::generator<int> in_order([&](auto& out) { walk(root.get(), out); });
  std::printf("in order:");
  for (int key : in_order) std::printf(" %d", key);
  std::printf("\n");

  // Generators compose: the first five squares of odd numbers, lazily.
  cospace::generator<long> odd_squares([](auto& out) {
    for (long i = 1;; i += 2) out.yield(i * i);
  });
  std::printf("odd squares:");
  int taken = 0;
  for (long v : odd_squares) {
    std::printf(" %ld", v);
    if (++taken == 5) break;  // the unfinished generator is unwound when it goes
  }
  std::printf("\n");
}
