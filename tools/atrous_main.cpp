// `atrous`: the command-line front end (docs/CLI.md).
#include <cstdio>
#include <cstring>
#include <string>

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

}  // namespace atrous

namespace {

const char* kUsage =
    "usage: atrous COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  info (MODEL | --arch NAME [--size HxW]) [--json] [--nodes]\n"
    "                                           inputs, outputs, ops, parameters, multiply-adds, "
    "metadata\n"
    "  run MODEL --input NAME=FILE.npy ... --output-dir DIR\n"
    "      [--threads N] [--backend reference|cpu|cuda] [--no-optimize]\n"
    "                                           run the graph, write each output as "
    "DIR/<name>.npy\n"
    "  segment MODEL IMAGE... --output-dir DIR [--threads N] [--backend reference|cpu|cuda]\n"
    "                                           semantic: label PNG, overlay PNG, JSON summary;\n"
    "                                           foreground: mask PNG, cut-out PNG, JSON summary\n"
    "      panoptic models: [--format coco|cityscapes|all] [--flip] [--scales S1,S2,...]\n"
    "      [--convention deeplab2|detectron2] [--dump-maps]\n"
    "                                           COCO/Cityscapes panoptic files, label PNG, overlay "
    "(docs/PANOPTIC.md)\n"
    "  merge --semantic S.npy --center C.npy --offset O.npy (--model MODEL | --params P.json)\n"
    "      [--convention deeplab2|detectron2] [--threads N] [--no-scores] --output-dir DIR\n"
    "                                           panoptic merger alone: panoptic.npy, "
    "segments.json\n"
    "  eval --format coco --gt-json G --gt-dir GD --pred-json P --pred-dir PD [--json REPORT]\n"
    "  eval --format cityscapes --gt ROOT --pred ROOT [--split val] [--json REPORT]\n"
    "      [--threads N] [--quiet]              PQ/SQ/RQ, mIoU, AP/AP50, PC (docs/EVAL.md)\n"
    "  bench (MODEL | --arch NAME) [--size HxW] [--threads N] [--backend cpu|reference]\n"
    "      [--runs N] [--warmup N] [--seed N] [--profile] [--json FILE]\n"
    "                                           latency, GFLOP/s, arena and peak memory, per-op "
    "profile\n"
    "  help                                     this text\n"
    "  version                                  the version\n";

}  // namespace

int main(int argc, char** argv) {
  atrous::Arguments args;
  for (int i = 1; i < argc; ++i) args.items.push_back(argv[i]);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string command = args.next();
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "version" || command == "--version") {
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
    return 0;
  }
  if (command == "info") return atrous::command_info(args);
  if (command == "run") return atrous::command_run(args);
  if (command == "eval") return atrous::command_eval(args);
  if (command == "merge") return atrous::command_merge(args);
  if (command == "segment") return atrous::command_segment(args);
  if (command == "bench") return atrous::command_bench(args);
  std::fprintf(stderr, "atrous: error: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
