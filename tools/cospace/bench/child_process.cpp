#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace cospace::tool::bench {
namespace {

// Owns the two ends of a pipe until they are handed over or closed.
struct pipe_pair {
  int read_end = -1, write_end = -1;
  pipe_pair() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      read_end = fds[0];
      write_end = fds[1];
    }
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  ~pipe_pair() {
    close_read();
    close_write();
  }
  bool valid() const noexcept { return read_end >= 0; }
  void close_read() noexcept {
    if (read_end >= 0) close(read_end);
    read_end = -1;
  }
  void close_write() noexcept {
    if (write_end >= 0) close(write_end);
    write_end = -1;
  }
};

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const std::string& x : extra) {
      const auto eq = x.find('=');
      replaced = replaced || entry.compare(0, eq + 1, x, 0, eq + 1) == 0;
    }
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (std::string& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Reads both pipes until they close or the deadline passes; true if they closed.
bool drain(pipe_pair& out, pipe_pair& err, process_result& r, std::chrono::steady_clock::time_point deadline) {
  char buffer[4096];
  while (out.read_end >= 0 || err.read_end >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      pipe_pair& p = i == 0 ? out : err;
      const ssize_t got = read(p.read_end, buffer, sizeof buffer);
      if (got > 0) (i == 0 ? r.out : r.err).append(buffer, static_cast<std::size_t>(got));
      else if (got == 0 || errno != EINTR) p.close_read();
    }
  }
  return true;
}

}  // namespace

std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return {};
  const std::size_t start = text.rfind('\n', end);
  std::string line = text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
  if (line.size() > 200) line = line.substr(0, 197) + "...";
  return line;
}

std::string process_result::failure() const {
  if (!started) return "could not start: " + start_error;
  std::string what;
  if (timed_out) what = "timed out";
  else if (signal != 0) what = std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
  else what = "exit code " + std::to_string(exit_code);
  const std::string line = last_line(err);
  return line.empty() ? what : what + ": " + line;
}

process_result run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                           double timeout_seconds) {
  process_result r;
  pipe_pair out, err;
  if (!out.valid() || !err.valid()) {
    r.start_error = std::string("pipe2: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.write_end, 1);
  posix_spawn_file_actions_adddup2(&actions, err.write_end, 2);
  std::vector<std::string> args = argv;
  std::vector<std::string> env = merged_environment(extra_env);
  std::vector<char*> arg_pointers = pointers(args);
  std::vector<char*> env_pointers = pointers(env);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args.at(0).c_str(), &actions, nullptr, arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  out.close_write();
  err.close_write();
  if (rc != 0) {
    r.start_error = argv.at(0) + ": " + std::strerror(rc);
    return r;
  }
  r.started = true;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long long>(timeout_seconds * 1000));
  if (!drain(out, err, r, deadline)) {
    r.timed_out = true;
    kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status) && !r.timed_out) r.signal = WTERMSIG(status);
  return r;
}

// The program that runs this one again: /proc/self/exe, except under the
// cross presets' emulator (cmake/toolchains/qemu-run, which exports
// COSPACE_QEMU_PROGRAM). There the kernel's /proc/self/exe is qemu itself, and
// argv[0] is qemu-run, which starts qemu on this program again.
std::string self_program() {
  if (std::getenv("COSPACE_QEMU_PROGRAM") != nullptr) {
    if (std::FILE* f = std::fopen("/proc/self/cmdline", "r")) {
      std::string argv0;
      for (int c; (c = std::fgetc(f)) != EOF && c != '\0';) argv0 += static_cast<char>(c);
      std::fclose(f);
      if (!argv0.empty()) return argv0;
    }
  }
  return "/proc/self/exe";
}

process_result run_self(const std::string& job, double timeout_seconds) {
  return run_process({self_program(), "bench"}, {std::string(child_job_variable) + "=" + job}, timeout_seconds);
}

fields parse_fields(const std::string& text) {
  fields f;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || line.find(' ') < eq) continue;
    f[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return f;
}

std::optional<double> number_field(const fields& f, const std::string& key) {
  const auto it = f.find(key);
  if (it == f.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(it->second.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return value;
}

std::string text_field(const fields& f, const std::string& key) {
  const auto it = f.find(key);
  return it == f.end() ? std::string() : it->second;
}

std::string find_program(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (c.find('/') != std::string::npos) {
      if (access(c.c_str(), X_OK) == 0) return c;
      continue;
    }
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const std::string full = (dir.empty() ? "." : dir) + "/" + c;
      if (access(full.c_str(), X_OK) == 0) return full;
    }
  }
  return {};
}

}  // namespace cospace::tool::bench
