// Running another program (a fresh copy of this one, the Go program, Python)
// and reading what it prints. Measurements of memory each run in a process of
// their own, so that one count's pages, page tables and allocator state do not
// pollute the next; they report "key=value" lines on stdout.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cospace::tool::bench {

struct process_result {
  bool started = false;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  std::string out, err;
  std::string start_error;  // why it did not start

  bool ok() const noexcept { return started && !timed_out && signal == 0 && exit_code == 0; }
  // One line saying what went wrong (the last line of stderr when there is one).
  std::string failure() const;
};

// Runs argv[0] (a path, or a name looked up in PATH) with `extra_env`
// ("NAME=value", replacing a variable of that name) added to this process's
// environment, stdin from /dev/null, and kills it after `timeout_seconds`.
process_result run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                           double timeout_seconds);

// The environment variable that turns `cospace bench` into a child running one
// measurement (see memory_child.hpp): a hidden mode that needs no option.
inline constexpr const char* child_job_variable = "COSPACE_BENCH_CHILD_JOB";

// Runs this program again as `cospace bench` with `job` in child_job_variable.
process_result run_self(const std::string& job, double timeout_seconds);

using fields = std::map<std::string, std::string>;
// "key=value" lines; other lines are ignored.
fields parse_fields(const std::string& text);
std::optional<double> number_field(const fields& f, const std::string& key);
std::string text_field(const fields& f, const std::string& key);

// The first of `candidates` (absolute paths, or names looked up in PATH) that
// exists and is executable; empty if none.
std::string find_program(const std::vector<std::string>& candidates);

// The last non-empty line of `text`, at most 200 characters.
std::string last_line(const std::string& text);

}  // namespace cospace::tool::bench
