// `atrous eval`: PQ/SQ/RQ, mIoU, AP/AP50 and PC of predictions against ground truth
// (docs/EVAL.md). Readers and metrics live in eval/; this file parses the command line, shows
// progress, prints the tables and writes the JSON report.
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "eval/cityscapes_dataset.h"
#include "eval/evaluator.h"
#include "eval/panoptic_dataset.h"
#include "graph/cityscapes_labels.h"
#include "graph/json_io.h"
#include "tools/cli_common.h"

namespace atrous {

namespace {

// Progress on stderr: a bar redrawn in place on a terminal, a plain line every 5 % otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

  void update(size_t done, size_t total, double seconds) {
    if (!enabled_ || total == 0) return;
    double rate = seconds > 0 ? double(done) / seconds : 0.0;
    long eta = rate > 0 ? long(double(total - done) / rate + 0.5) : 0;
    char eta_text[32];
    std::snprintf(eta_text, sizeof eta_text, "%ld:%02ld", eta / 60, eta % 60);
    if (tty_) {
      const int width = 30;
      int filled = int(double(width) * double(done) / double(total));
      std::string bar(size_t(filled), '=');
      if (filled < width) bar += '>';
      bar.resize(size_t(width), ' ');
      std::fprintf(stderr, "\r[%s] %zu/%zu images, %.1f img/s, ETA %s", bar.c_str(), done, total,
                   rate, eta_text);
      if (done == total) std::fputc('\n', stderr);
      std::fflush(stderr);
      return;
    }
    size_t step = done * 20 / total;
    if (step == last_step_ && done != total) return;
    last_step_ = step;
    std::fprintf(stderr, "eval: %zu/%zu images, %.1f img/s, ETA %s\n", done, total, rate, eta_text);
  }

 private:
  bool enabled_;
  bool tty_;
  size_t last_step_ = size_t(-1);
};

struct ClassRow {
  std::string name;
  bool isthing = false;
  bool has_pq = false;
  PqValues pq;
  PqCounts counts;
  double iou = std::nan("");
  bool has_iou = false;
  double pc = std::nan("");
  bool has_pc = false;
  double ap = std::nan(""), ap50 = std::nan("");
  bool has_ap = false;
};

std::string percent(double v) {
  if (!std::isfinite(v)) return "    -";
  char b[16];
  std::snprintf(b, sizeof b, "%5.1f", 100.0 * v);
  return b;
}

nlohmann::ordered_json pq_json(const PqSummary& s, const std::vector<EvalCategory>& cats,
                               double PqValues::*field) {
  nlohmann::ordered_json per_class = nlohmann::ordered_json::object();
  for (size_t i = 0; i < cats.size(); ++i)
    per_class[std::to_string(cats[i].id)] = s.per_class[i].*field;
  return {{"all", s.all.*field},
          {"things", s.things.*field},
          {"stuff", s.stuff.*field},
          {"per_class", std::move(per_class)}};
}

struct EvalArguments {
  std::string format, gt_json, gt_dir, pred_json, pred_dir, gt_root, pred_root, split = "val",
                                                                                report_path;
  std::string threads_text, memory_budget_text;
  bool quiet = false;
  bool allow_outside_paths = false;
  const CLI::Option* memory_budget_option = nullptr;  // to tell "--memory-budget ''" from none
};

int run_eval(const EvalArguments& a) {
  const std::string &format = a.format, &gt_json = a.gt_json, &gt_dir = a.gt_dir,
                    &pred_json = a.pred_json, &pred_dir = a.pred_dir, &gt_root = a.gt_root,
                    &pred_root = a.pred_root, &split = a.split, &report_path = a.report_path;
  const bool quiet = a.quiet;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  if (int code = parse_threads_option("eval", a.threads_text, &threads)) return code;
  EvalMemory memory;
  memory.budget = kEvalDefaultMemoryBudget;
  if (a.memory_budget_option->count() > 0 &&
      (!parse_size(a.memory_budget_text, &memory.budget) || memory.budget < (uint64_t(1) << 20)))
    return cli_fail(
        "eval: --memory-budget needs a size of at least 1M (bytes, or with K, M, G or T)", 2);

  EvalAccumulators total;
  std::vector<EvalCategory> categories;  // panoptic categories (rows of the table)
  size_t count = 0;
  std::function<Status(size_t, EvalAccumulators*)> evaluate;
  PanopticDataset coco;
  CityscapesDataset cityscapes;
  if (format == "coco") {
    if (gt_json.empty() || gt_dir.empty() || pred_json.empty() || pred_dir.empty())
      return cli_fail(
          "eval --format coco needs --gt-json, --gt-dir, --pred-json and --pred-dir (see atrous "
          "eval --help)",
          2);
    Status s =
        panoptic_dataset_load(gt_json, gt_dir, pred_json, pred_dir, &coco, a.allow_outside_paths);
    if (!s.ok()) return cli_fail(s.message());
    categories = coco.categories;
    total.pq = std::make_unique<PanopticQuality>(categories);
    total.pc = std::make_unique<ParsingCovering>(categories);
    std::vector<bool> evaluated(categories.size() + 1, true);
    evaluated.back() = false;  // VOID
    total.semantic = std::make_unique<ConfusionMatrix>(evaluated);
    count = coco.images.size();
    memory.release_thread_buffers = panoptic_release_thread_buffers;
    evaluate = [&](size_t i, EvalAccumulators* delta) {
      return panoptic_pair_evaluate(coco.images[i], true, delta);
    };
  } else if (format == "cityscapes") {
    if (gt_root.empty() || pred_root.empty())
      return cli_fail("eval --format cityscapes needs --gt and --pred (see atrous eval --help)", 2);
    Status s =
        cityscapes_dataset_load(gt_root, pred_root, split, &cityscapes, a.allow_outside_paths);
    if (!s.ok()) return cli_fail(s.message());
    total = cityscapes_accumulators(cityscapes);
    if (cityscapes.panoptic) {
      categories = cityscapes.panoptic_categories;
    } else {
      for (int id : cityscapes_eval_ids()) {
        const CityscapesLabel* l = cityscapes_label(id);
        categories.push_back({id, l->name, l->has_instances});
      }
    }
    count = cityscapes.images.size();
    memory.release_thread_buffers = cityscapes_release_thread_buffers;
    evaluate = [&](size_t i, EvalAccumulators* delta) {
      return cityscapes_image_evaluate(cityscapes, i, delta);
    };
  } else {
    return cli_fail("eval: --format must be coco or cityscapes (see atrous eval --help)", 2);
  }

  ProgressPrinter progress(!quiet);
  auto counted = [&](size_t i, EvalAccumulators* delta) {
    Status s = evaluate(i, delta);
    if (s.ok() && !delta->missing.empty()) delta->missing_images = 1;
    return s;
  };
  Status s = evaluate_images(
      count, threads, counted, &total,
      [&](size_t done, size_t all, double seconds) { progress.update(done, all, seconds); },
      memory);
  if (!s.ok()) {
    if (!quiet && isatty(STDERR_FILENO)) std::fputc('\n', stderr);
    return cli_fail(s.message());
  }
  for (size_t i = 0; i < total.missing.size() && i < 20; ++i)
    std::fprintf(stderr, "atrous: warning: missing prediction: %s (counted as all missed)\n",
                 total.missing[i].c_str());
  if (total.missing.size() > 20)
    std::fprintf(stderr, "atrous: warning: ... and %zu more missing predictions\n",
                 total.missing.size() - 20);

  // ---- collect per-class rows ----------------------------------------------------------
  std::map<int, ClassRow> rows;
  std::vector<int> order;
  for (const auto& c : categories) {
    ClassRow& r = rows[c.id];
    r.name = c.name;
    r.isthing = c.isthing;
    order.push_back(c.id);
  }
  PqSummary pq;
  PcSummary pc;
  ApSummary ap;
  if (total.pq) {
    pq = total.pq->summary();
    for (size_t i = 0; i < categories.size(); ++i) {
      ClassRow& r = rows[categories[i].id];
      r.has_pq = true;
      r.pq = pq.per_class[i];
      r.counts = total.pq->counts()[i];
    }
  }
  if (total.pc) {
    pc = total.pc->summary();
    for (size_t i = 0; i < categories.size(); ++i) {
      rows[categories[i].id].pc = pc.per_class[i];
      rows[categories[i].id].has_pc = true;
    }
  }
  double miou = std::nan("");
  if (total.semantic) {
    miou = total.semantic->mean_iou();
    if (format == "coco") {
      for (size_t i = 0; i < categories.size(); ++i) {
        rows[categories[i].id].iou = total.semantic->iou(int(i));
        rows[categories[i].id].has_iou = true;
      }
    } else {
      for (int id : cityscapes_eval_ids()) {
        if (!rows.count(id)) continue;
        rows[id].iou = total.semantic->iou(id);
        rows[id].has_iou = true;
      }
    }
  }
  if (total.instance) {
    ap = total.instance->summary();
    std::vector<int> ids = cityscapes_instance_ids();
    for (size_t k = 0; k < ids.size(); ++k) {
      if (!rows.count(ids[k])) continue;
      rows[ids[k]].ap = ap.per_class_ap[k];
      rows[ids[k]].ap50 = ap.per_class_ap50[k];
      rows[ids[k]].has_ap = true;
    }
  }

  // ---- table and summary ---------------------------------------------------------------
  if (!quiet) {
    std::printf("%5s  %-22s %-5s", "id", "class", "kind");
    if (total.pq) std::printf("  %5s %5s %5s %6s %6s %6s", "PQ", "SQ", "RQ", "TP", "FP", "FN");
    if (total.semantic) std::printf("  %5s", "IoU");
    if (total.pc) std::printf("  %5s", "PC");
    if (total.instance) std::printf("  %5s %5s", "AP", "AP50");
    std::printf("\n");
    for (int id : order) {
      const ClassRow& r = rows[id];
      std::printf("%5d  %-22.22s %-5s", id, r.name.c_str(), r.isthing ? "thing" : "stuff");
      if (total.pq) {
        bool counted_class = r.counts.tp + r.counts.fp + r.counts.fn > 0;
        std::printf("  %s %s %s %6lld %6lld %6lld", percent(counted_class ? r.pq.pq : NAN).c_str(),
                    percent(counted_class ? r.pq.sq : NAN).c_str(),
                    percent(counted_class ? r.pq.rq : NAN).c_str(), (long long)r.counts.tp,
                    (long long)r.counts.fp, (long long)r.counts.fn);
      }
      if (total.semantic) std::printf("  %s", percent(r.iou).c_str());
      if (total.pc) std::printf("  %s", percent(r.pc).c_str());
      if (total.instance) std::printf("  %s %s", percent(r.ap).c_str(), percent(r.ap50).c_str());
      std::printf("\n");
    }
    std::printf("\n%zu images", size_t(total.images));
    if (total.missing_images)
      std::printf(" (%lld with missing predictions)", (long long)total.missing_images);
    std::printf("\n");
    if (total.pq) {
      std::printf("%-8s %5s %5s %5s %3s\n", "", "PQ", "SQ", "RQ", "N");
      const char* names[3] = {"All", "Things", "Stuff"};
      const PqValues* groups[3] = {&pq.all, &pq.things, &pq.stuff};
      for (int g = 0; g < 3; ++g)
        std::printf("%-8s %s %s %s %3d\n", names[g], percent(groups[g]->pq).c_str(),
                    percent(groups[g]->sq).c_str(), percent(groups[g]->rq).c_str(),
                    groups[g]->classes);
    }
    if (total.semantic) std::printf("mIoU  %s\n", percent(miou).c_str());
    if (total.instance)
      std::printf("AP    %s\nAP50  %s\n", percent(ap.ap).c_str(), percent(ap.ap50).c_str());
    if (total.pc) std::printf("PC    %s\n", percent(pc.all).c_str());
  }

  // ---- JSON report ---------------------------------------------------------------------
  if (!report_path.empty()) {
    using nlohmann::ordered_json;
    ordered_json j = {{"format", format},
                      {"images", total.images},
                      {"missing_predictions", total.missing_images},
                      {"missing", total.missing}};
    if (total.pq) {
      j["PQ"] = pq_json(pq, categories, &PqValues::pq);
      j["SQ"] = pq_json(pq, categories, &PqValues::sq);
      j["RQ"] = pq_json(pq, categories, &PqValues::rq);
    }
    ordered_json per_class = ordered_json::object();
    for (int id : order) {
      const ClassRow& r = rows[id];
      ordered_json row = {{"name", r.name}, {"isthing", r.isthing}};
      if (r.has_pq) {
        row["PQ"] = r.pq.pq;
        row["SQ"] = r.pq.sq;
        row["RQ"] = r.pq.rq;
        row["TP"] = r.counts.tp;
        row["FP"] = r.counts.fp;
        row["FN"] = r.counts.fn;
      }
      if (r.has_iou) row["IoU"] = r.iou;
      if (r.has_pc) row["PC"] = r.pc;
      if (r.has_ap) {
        row["AP"] = r.ap;
        row["AP50"] = r.ap50;
      }
      per_class[std::to_string(id)] = std::move(row);
    }
    j["per_class"] = std::move(per_class);
    if (total.semantic) j["mIoU"] = miou;
    if (total.instance) {
      j["AP"] = ap.ap;
      j["AP50"] = ap.ap50;
    }
    if (total.pc) j["PC"] = pc.all;
    Status w = write_text_file(report_path, json_dump(j) + "\n");
    if (!w.ok()) return cli_fail(w.message());
  }
  return 0;
}

}  // namespace

CommandRunner add_command_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArguments>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "PQ/SQ/RQ, mIoU, AP/AP50 and PC of predictions against ground truth (docs/EVAL.md)");
  cmd->footer(
      "The two forms:\n  atrous eval --format coco --gt-json G.json --gt-dir GDIR --pred-json "
      "P.json "
      "--pred-dir PDIR [OPTIONS]\n"
      "  atrous eval --format cityscapes --gt GT_ROOT --pred PRED_ROOT [--split val] "
      "[OPTIONS]");
  cmd->add_option("--format", a->format, "coco or cityscapes (required)")->type_name("NAME");
  const char* coco = "--format coco";
  cmd->add_option("--gt-json", a->gt_json, "ground-truth panoptic JSON")
      ->type_name("G.json")
      ->group(coco);
  cmd->add_option("--gt-dir", a->gt_dir, "ground-truth panoptic PNGs")
      ->type_name("GDIR")
      ->group(coco);
  cmd->add_option("--pred-json", a->pred_json, "predicted panoptic JSON")
      ->type_name("P.json")
      ->group(coco);
  cmd->add_option("--pred-dir", a->pred_dir, "predicted panoptic PNGs")
      ->type_name("PDIR")
      ->group(coco);
  const char* cityscapes = "--format cityscapes";
  cmd->add_option("--gt", a->gt_root, "Cityscapes root (gtFine/...)")
      ->type_name("GT_ROOT")
      ->group(cityscapes);
  cmd->add_option("--pred", a->pred_root, "root of atrous segment --format cityscapes outputs")
      ->type_name("PRED_ROOT")
      ->group(cityscapes);
  cmd->add_option("--split", a->split, "the split to evaluate (default val)")
      ->type_name("NAME")
      ->group(cityscapes);
  cmd->add_option("--json", a->report_path, "also write the numbers as a JSON report")
      ->type_name("REPORT");
  add_threads_option(cmd, &a->threads_text, "threads, 1 to 1024 (default: the hardware threads)");
  cmd->add_flag("--quiet", a->quiet, "no progress and no tables");
  a->memory_budget_option =
      cmd->add_option("--memory-budget", a->memory_budget_text,
                      "memory for decoding, all threads together (default 2G)")
          ->type_name("SIZE");
  cmd->add_flag("--allow-outside-paths", a->allow_outside_paths,
                "read files named outside the given folders (../, absolute, symlinks)");
  return [a] {
    // Failures are Status values; this is for what escapes them (an allocation beyond the
    // machine, an exception from a library), which must still be one line and exit 1.
    try {
      return run_eval(*a);
    } catch (const std::bad_alloc&) {
      return cli_fail("eval: out of memory (try a smaller --memory-budget or fewer --threads)");
    } catch (const std::exception& e) {
      return cli_fail(std::string("eval: ") + e.what());
    }
  };
}

}  // namespace atrous
