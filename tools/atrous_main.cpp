// `atrous`: the command-line front end (docs/CLI.md).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tools/cli_common.h"
#ifdef ATROUS_HAVE_CUDA
#include "cuda/device_probe.h"
#endif

namespace atrous {

int cli_fail(const std::string& message, int code) {
  std::fprintf(stderr, "atrous: error: %s\n", message.c_str());
  return code;
}

Status write_text_file(const std::string& path, const std::string& text) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return Status::error("cannot write '" + path + "'");
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  ok = std::fclose(file) == 0 && ok;
  return ok ? Status::success() : Status::error("cannot write '" + path + "'");
}

bool parse_int(const std::string& text, long long* value) {
  if (text.empty() || text.size() > 18) return false;
  size_t i = (text[0] == '-') ? 1 : 0;
  if (i == text.size()) return false;
  for (size_t j = i; j < text.size(); ++j)
    if (text[j] < '0' || text[j] > '9') return false;
  *value = std::stoll(text);
  return true;
}

bool parse_size(const std::string& text, uint64_t* bytes) {
  if (text.empty()) return false;
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return false;
  uint64_t value = std::stoull(text.substr(0, digits));
  std::string unit = text.substr(digits);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  int shift = 0;
  if (unit == "k" || unit == "K" || unit == "Ki")
    shift = 10;
  else if (unit == "m" || unit == "M" || unit == "Mi")
    shift = 20;
  else if (unit == "g" || unit == "G" || unit == "Gi")
    shift = 30;
  else if (unit == "t" || unit == "T" || unit == "Ti")
    shift = 40;
  else if (!unit.empty())
    return false;
  if (value > (uint64_t(1) << (62 - shift))) return false;
  *bytes = value << shift;
  return true;
}

void add_max_memory_option(CLI::App* command, std::string* text) {
  command
      ->add_option("--max-memory", *text,
                   "host memory the session may allocate: arena, scratch and folded constants "
                   "(default 16G)")
      ->type_name("SIZE");
}

bool parse_max_memory(const std::string& text, int64_t* bytes) {
  if (text.empty()) return true;
  uint64_t value = 0;
  if (!parse_size(text, &value) || value < (uint64_t(1) << 20)) return false;
  *bytes = int64_t(value);
  return true;
}

// "NAME (default), OTHER or OTHER" with `suffix` after the default's name: the backends with
// the default first.
static std::string backend_list(Backend default_backend, const char* suffix) {
  std::vector<std::string> names = {backend_name(default_backend) + std::string(suffix)};
  for (Backend b : {Backend::backend_reference, Backend::backend_cpu, Backend::backend_cuda})
    if (b != default_backend) names.push_back(backend_name(b));
  return names[0] + ", " + names[1] + " or " + names[2];
}

void add_threads_option(CLI::App* cmd, std::string* text, const std::string& help) {
  cmd->add_option("--threads", *text, help)->type_name("N");
}

void add_backend_option(CLI::App* cmd, std::string* text, Backend default_backend) {
  cmd->add_option("--backend", *text, backend_list(default_backend, " (default)"))
      ->type_name("NAME");
}

int parse_threads_option(const std::string& command, const std::string& text, int* threads) {
  if (text.empty()) return 0;
  long long n = 0;
  if (!parse_int(text, &n) || n < 1 || n > 1024)
    return cli_fail(command + ": --threads needs a number from 1 to 1024", 2);
  *threads = int(n);
  return 0;
}

int parse_backend_option(const std::string& command, const std::string& text, Backend* backend) {
  if (text.empty() || backend_from_name(text, backend)) return 0;
  return cli_fail(command + ": --backend must be " + backend_list(*backend, ""), 2);
}

}  // namespace atrous

namespace {

void print_version() {
  std::printf("atrous 0.1.0\n");
#ifdef ATROUS_HAVE_CUDA
  std::string reason;
  int devices = atrous::cuda_device_count(&reason);
  if (devices > 0)
    std::printf("CUDA: built; %d device%s visible\n", devices, devices == 1 ? "" : "s");
  else
    std::printf("CUDA: built; no device visible (%s)\n", reason.c_str());
#else
  std::printf("CUDA: not built\n");
#endif
}

std::string markdown_escape(std::string text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '|') text.insert(i++, "\\");
  return text;
}

// The reference section of docs/CLI.md, from the same CLI11 definitions that parse the command
// line (tests/cli/check_cli_docs.cmake fails when the file and this output differ).
void print_markdown(const CLI::App& app) {
  std::printf("## Reference\n\n");
  for (const CLI::App* cmd : app.get_subcommands({})) {
    if (cmd->get_group().empty()) continue;  // hidden
    std::printf("### `atrous %s`\n\n%s\n\n", cmd->get_name().c_str(),
                cmd->get_description().c_str());
    std::vector<const CLI::Option*> options = cmd->get_options(
        [](const CLI::Option* o) { return !o->get_group().empty() && o->get_name() != "--help"; });
    if (options.empty()) continue;
    std::printf("| argument | value | meaning |\n|---|---|---|\n");
    for (const CLI::Option* o : options) {
      std::string names = o->get_name(false, true);
      std::string value = o->get_type_size() == 0 ? "" : o->get_type_name();
      std::string description = o->get_description();
      if (o->get_group() != "Options" && o->get_group() != "Positionals")
        description += " [" + o->get_group() + "]";
      if (o->get_items_expected_max() > 1 || o->get_expected_max() > 1 ||
          o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll)
        value += value.empty() ? "" : " ...";
      std::printf("| `%s` | %s | %s |\n", markdown_escape(names).c_str(),
                  value.empty() ? "" : ("`" + markdown_escape(value) + "`").c_str(),
                  markdown_escape(description).c_str());
    }
    std::printf("\n");
  }
}

// CLI11's messages as one line: "atrous: error: COMMAND: MESSAGE".
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::string where;
  for (const CLI::App* cmd : app.get_subcommands())
    if (cmd->parsed()) where = cmd->get_name() + ": ";
  std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    // "The following arguments were not expected: b a" (CLI11 lists them reversed): name the
    // first in command-line order.
    std::vector<std::string> extras;
    std::istringstream words(message.substr(message.find(": ") + 2));
    for (std::string word; words >> word;) extras.push_back(word);
    for (int i = 1; i < argc; ++i) {
      if (std::find(extras.begin(), extras.end(), argv[i]) == extras.end()) continue;
      const std::string first = argv[i];
      message =
          (first.size() > 1 && first[0] == '-' ? "unknown option '" : "unexpected argument '") +
          first + "'";
      break;
    }
  } else {
    // "--scales: 1 required S1,S2,... missing" → "--scales needs a value"
    size_t colon = message.find(": ");
    const std::string missing = " missing";
    if (colon != std::string::npos && message[0] == '-' &&
        message.find(" required ") != std::string::npos && message.size() > missing.size() &&
        message.compare(message.size() - missing.size(), missing.size(), missing) == 0)
      message = message.substr(0, colon) + " needs a value";
  }
  for (char& c : message)
    if (c == '\n') c = ' ';
  return atrous::cli_fail(where + message, 2);
}

}  // namespace

static int run_main(int argc, char** argv) {
  CLI::App app{"atrous: DeepLab-family segmentation inference (docs/CLI.md)", "atrous"};
  app.set_help_flag("-h,--help", "print this help and exit");  // subcommands inherit it
  app.require_subcommand(0, 1);
  app.get_formatter()->column_width(32);
  std::vector<std::pair<CLI::App*, atrous::CommandRunner>> commands;
  auto add = [&](atrous::CommandRunner (*add_command)(CLI::App&)) {
    atrous::CommandRunner run = add_command(app);
    commands.push_back({app.get_subcommands({}).back(), std::move(run)});
  };
  add(atrous::add_command_info);
  add(atrous::add_command_run);
  add(atrous::add_command_segment);
  add(atrous::add_command_merge);
  add(atrous::add_command_eval);
  add(atrous::add_command_bench);
  bool markdown = false;
  std::string help_topic;
  CLI::App* help =
      app.add_subcommand("help", "Print this help, or a command's (atrous help COMMAND)");
  help->add_option("COMMAND", help_topic, "the command to describe")->type_name("NAME");
  help->add_flag("--markdown", markdown, "print the reference section of docs/CLI.md")->group("");
  CLI::App* version = app.add_subcommand("version", "Print the version and the CUDA status");
  bool version_flag = false;
  app.add_flag("--version", version_flag, "print the version and exit");

  if (argc < 2) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return usage_error(app, e, argc, argv);
  }
  if (version_flag || version->parsed()) {
    print_version();
    return 0;
  }
  if (help->parsed()) {
    if (markdown) {
      print_markdown(app);
      return 0;
    }
    if (help_topic.empty()) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
    for (const CLI::App* cmd : app.get_subcommands({}))
      if (cmd->get_name() == help_topic) {
        std::fputs(cmd->help("atrous").c_str(), stdout);
        return 0;
      }
    return atrous::cli_fail("help: unknown command '" + help_topic + "'", 2);
  }
  for (auto& entry : commands)
    if (entry.first->parsed()) return entry.second();
  std::fputs(app.help().c_str(), stderr);
  return 2;
}

// The last line of defence: commands report failures as Status values and check memory needs
// before allocating, but an allocation beyond the machine or a library's exception must still
// end as one line and exit 1, never as an abort.
int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::bad_alloc&) {
    return atrous::cli_fail(
        "out of memory (a smaller input, --max-memory or fewer --threads may help)");
  } catch (const std::exception& e) {
    return atrous::cli_fail(e.what());
  } catch (...) {
    return atrous::cli_fail("unexpected internal error");
  }
}
