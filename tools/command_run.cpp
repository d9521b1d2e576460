// `atrous run MODEL --input NAME=FILE.npy ... --output-dir DIR`: run a graph on .npy inputs.
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "runtime/npy.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

namespace atrous {
namespace {

// Output names become file names: anything outside [A-Za-z0-9._-] becomes '_', and names
// that would be hidden or special ('.', '..') get a prefix.
std::string file_name_for(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    out += safe ? c : '_';
  }
  if (out.empty() || out[0] == '.') out = "output_" + out;
  return out;
}

// File names of the graph's outputs, made unique: an output whose name maps to a file name an
// earlier output already has gets "+2", "+3", ... ('+' is outside the kept characters, so the
// suffixed name is never another output's plain name). Compared ignoring case, for file systems
// that do.
std::vector<std::string> output_file_names(const Graph& graph) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  auto folded = [](std::string text) {
    for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  for (int32_t output : graph.outputs) {
    const std::string plain = file_name_for(graph.tensors[size_t(output)].name);
    std::string name = plain;
    for (int k = 2; !taken.insert(folded(name)).second; ++k) name = plain + "+" + std::to_string(k);
    names.push_back(name);
  }
  return names;
}

}  // namespace

Status make_directories(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST)
        return Status::error("cannot create directory '" + partial + "': " + std::strerror(errno));
    }
    if (i < path.size()) partial += path[i];
  }
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    return Status::error("'" + path + "' is not a directory");
  return Status::success();
}

namespace {

struct RunArguments {
  std::string model_path, output_dir, threads_text, backend_text, max_memory_text;
  std::vector<std::string> inputs;
  bool no_optimize = false;
};

int run_run(const RunArguments& a) {
  const std::string &model_path = a.model_path, &output_dir = a.output_dir;
  std::vector<std::pair<std::string, std::string>> input_files;
  for (const std::string& text : a.inputs) {
    size_t eq = text.find('=');
    if (eq == std::string::npos)
      input_files.push_back({"", text});
    else
      input_files.push_back({text.substr(0, eq), text.substr(eq + 1)});
  }
  SessionOptions options;
  options.optimize = !a.no_optimize;
  if (int code = parse_threads_option("run", a.threads_text, &options.threads)) return code;
  if (int code = parse_backend_option("run", a.backend_text, &options.backend)) return code;
  if (!parse_max_memory(a.max_memory_text, &options.max_memory_bytes))
    return cli_fail("run: --max-memory needs a size of at least 1M (bytes, or with K, M, G or T)",
                    2);
  if (model_path.empty())
    return cli_fail(
        "run: no model given (usage: atrous run MODEL --input NAME=FILE.npy ... --output-dir DIR)",
        2);
  if (output_dir.empty()) return cli_fail("run: --output-dir is required", 2);

  std::shared_ptr<const Model> model;
  Status status = Model::load_file(model_path, &model);
  if (!status.ok()) return cli_fail(status.message());
  const Graph& graph = model->graph();
  // A single input may be given without its name.
  for (auto& entry : input_files) {
    if (!entry.first.empty()) continue;
    if (graph.inputs.size() != 1 || input_files.size() != 1)
      return cli_fail("run: the model has " + std::to_string(graph.inputs.size()) +
                      " inputs; give each as --input NAME=FILE.npy");
    entry.first = graph.tensors[size_t(graph.inputs[0])].name;
  }
  std::vector<Tensor> tensors(input_files.size());
  std::vector<NamedInput> inputs;
  for (size_t i = 0; i < input_files.size(); ++i) {
    status = npy_read(input_files[i].second, &tensors[i]);
    if (!status.ok()) return cli_fail("input '" + input_files[i].first + "': " + status.message());
    inputs.push_back({input_files[i].first, &tensors[i].view()});
  }

  std::unique_ptr<Session> session;
  status = Session::create(model, options, &session);
  if (!status.ok()) return cli_fail(status.message());
  std::vector<Tensor> outputs;
  auto start = std::chrono::steady_clock::now();
  status = session->run(inputs, &outputs);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) return cli_fail(status.message());

  status = make_directories(output_dir);
  if (!status.ok()) return cli_fail(status.message());
  // All outputs or none: written under temporary names, renamed once every one is complete.
  OutputFiles files;
  const std::vector<std::string> names = output_file_names(graph);
  std::vector<std::string> paths;
  for (size_t o = 0; o < outputs.size(); ++o) {
    paths.push_back(output_dir + "/" + names[o] + ".npy");
    status = write_output(files, paths[o],
                          [&](const std::string& to) { return npy_write(to, outputs[o].view()); });
    if (!status.ok()) return cli_fail(status.message());
  }
  status = files.commit();
  if (!status.ok()) return cli_fail(status.message());
  for (size_t o = 0; o < outputs.size(); ++o) {
    const std::string& name = graph.tensors[size_t(graph.outputs[o])].name;
    std::printf("%s: %s %s -> %s\n", name.c_str(), dtype_name(outputs[o].dtype()),
                shape_to_string(outputs[o].shape()).c_str(), paths[o].c_str());
  }
  std::printf("ran in %.1f ms (%s backend, %d thread%s)\n", ms,
              backend_name(session->options().backend), options.threads,
              options.threads == 1 ? "" : "s");
  return 0;
}

}  // namespace

CommandRunner add_command_run(CLI::App& app) {
  auto a = std::make_shared<RunArguments>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a graph on .npy inputs; write each output as DIR/<name>.npy");
  cmd->add_option("MODEL", a->model_path, "a .atrous model file")->type_name("FILE");
  cmd->add_option("-i,--input", a->inputs,
                  "an input as NAME=FILE.npy (repeat per input; FILE.npy alone for a model with "
                  "one input)")
      ->type_name("NAME=FILE.npy")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-o,--output-dir", a->output_dir, "where the outputs go (created if needed)")
      ->type_name("DIR");
  add_threads_option(cmd, &a->threads_text);
  add_backend_option(cmd, &a->backend_text, SessionOptions().backend);
  add_max_memory_option(cmd, &a->max_memory_text);
  cmd->add_flag("--no-optimize", a->no_optimize, "run the graph exactly as stored");
  return [a] { return run_run(*a); };
}

}  // namespace atrous
