// Shared helpers of the `atrous` subcommands. Each command_*.cpp declares its subcommand on the
// CLI11 app (options, positionals, help text) and returns the function that runs it once the
// command line is parsed; the same definitions print `--help` and the reference section of
// docs/CLI.md (`atrous help --markdown`).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "graph/output_files.h"
#include "graph/status.h"
#include "runtime/session.h"

namespace atrous {

// Runs a parsed subcommand; returns the process exit code.
using CommandRunner = std::function<int()>;

// Prints "atrous: error: MESSAGE" on stderr and returns `code` (1 for failures, 2 for usage).
int cli_fail(const std::string& message, int code = 1);
bool parse_int(const std::string& text, long long* value);
// "2G", "512M", "64k" (powers of 1024) or plain bytes.
bool parse_size(const std::string& text, uint64_t* bytes);
// --max-memory SIZE of run, segment and bench: SessionOptions::max_memory_bytes.
void add_max_memory_option(CLI::App* command, std::string* text);
// *bytes from the option's text (left alone when empty); false (a usage error) when the text
// is not a size of at least 1M.
bool parse_max_memory(const std::string& text, int64_t* bytes);
// Writes `text` to `path` (replacing it); an error names the path.
Status write_text_file(const std::string& path, const std::string& text);
// Stages `path` in `files` and runs write(temporary path); an error names `path`, not the
// temporary (tools/cli_output.cpp).
Status write_output(OutputFiles& files, const std::string& path,
                    const std::function<Status(const std::string&)>& write);
// write_text_file through a temporary and a rename: `path` is either its old or its new content.
Status write_text_file_atomic(const std::string& path, const std::string& text);
// mkdir -p; an error when the path exists and is not a directory.
Status make_directories(const std::string& path);

// --threads N and --backend NAME, declared and checked alike by every command that has them. The
// backend a command defaults to is named first, in the help and in the error message.
void add_threads_option(CLI::App* cmd, std::string* text,
                        const std::string& help = "threads, 1 to 1024 (default 1)");
void add_backend_option(CLI::App* cmd, std::string* text, Backend default_backend);
// An empty `text` leaves the value as it is; a bad one prints "COMMAND: --threads needs a number
// from 1 to 1024" (resp. "--backend must be ...") and returns the usage exit code 2, else 0.
int parse_threads_option(const std::string& command, const std::string& text, int* threads);
int parse_backend_option(const std::string& command, const std::string& text, Backend* backend);

// Values of numeric and enumerated options are taken as text by CLI11 and checked by the
// command, so that every message names the option the same way ("--threads needs a number
// from 1 to 1024").
CommandRunner add_command_info(CLI::App& app);
CommandRunner add_command_run(CLI::App& app);
CommandRunner add_command_segment(CLI::App& app);
CommandRunner add_command_merge(CLI::App& app);
CommandRunner add_command_eval(CLI::App& app);
CommandRunner add_command_bench(CLI::App& app);

}  // namespace atrous
