// JSON on nlohmann-json (graph/json_io.h): one-line errors with the source and position,
// integers taken only when they fit, valid UTF-8 out, doubles that read back exactly; and the
// readers built on it refusing integers their fields cannot hold.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "eval/panoptic_dataset.h"
#include "graph/json_io.h"
#include "models/panoptic_merger.h"

using namespace atrous;
namespace fs = std::filesystem;

TEST_CASE("JSON: parse errors are one line naming the source and the position", "[json]") {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"{\"a\": 1,}", "line 1, column 9"},
      {"{\"a\": 1\n \"b\": 2}", "line 2, column 4"},
      {"[1, 2", "line 1"},
      {"{\"a\": 01}", "line 1"},
      {"\"abc", "line 1"},
      {"[1] [2]", "line 1, column 5"},
      {"{\"a\": tru}", "line 1"},
      {"\"\\ud800\"", "surrogate"},
      {"\"\\q\"", "line 1"},
      {"", "unexpected end of input"},
      {"[NaN]", "line 1"},
      {"{\"a\": 1, // comment\n}", "line 1"},
  };
  for (const Case& c : cases) {
    nlohmann::json v;
    Status s = json_parse(c.text, "in.json", &v);
    INFO(c.text << " -> " << s.message());
    REQUIRE(!s.ok());
    CHECK(s.message().rfind("in.json: ", 0) == 0);
    CHECK_THAT(s.message(), Catch::Contains(c.expect));
    CHECK(s.message().find('\n') == std::string::npos);
    CHECK(s.message().find("json.exception") == std::string::npos);
  }
  nlohmann::json v;
  CHECK(!json_parse(std::string(1000, '['), "deep", &v).ok());
  REQUIRE(
      json_parse(R"({"s": "x\"\\\/\n\u00e9\ud83d\ude00", "a": [1, -2.5e3, true, null]})", "ok", &v)
          .ok());
  CHECK(v["s"] == "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v["a"][1] == -2500.0);
}

TEST_CASE("JSON: a file that cannot be read is named", "[json]") {
  nlohmann::json v;
  Status s = json_parse_file("/nonexistent/atrous/x.json", &v);
  REQUIRE(!s.ok());
  CHECK_THAT(s.message(), Catch::StartsWith("/nonexistent/atrous/x.json: cannot open"));
}

TEST_CASE("JSON: integers only when they fit, never truncated", "[json]") {
  struct Case {
    const char* text;
    bool ok;
    int64_t value;
  };
  const Case cases[] = {
      {"5", true, 5},
      {"-3", true, -3},
      {"5.0", true, 5},
      {"9223372036854775807", true, std::numeric_limits<int64_t>::max()},
      {"-9223372036854775808", true, std::numeric_limits<int64_t>::min()},
      {"9223372036854775808", false, 0},
      {"18446744073709551616", false, 0},
      {"9.3e18", false, 0},
      {"1e300", false, 0},
      {"5.5", false, 0},
      {"\"5\"", false, 0},
      {"true", false, 0},
  };
  for (const Case& c : cases) {
    nlohmann::json v;
    REQUIRE(json_parse(c.text, "t", &v).ok());
    int64_t out = 0;
    INFO(c.text);
    CHECK(json_to_int64(v, &out) == c.ok);
    if (c.ok) CHECK(out == c.value);
  }
  std::string key;
  CHECK((json_id_key(nlohmann::json(42), &key) && key == "42"));
  CHECK((json_id_key(nlohmann::json(42.0), &key) && key == "42"));
  CHECK((json_id_key(nlohmann::json("frankfurt_000000"), &key) && key == "frankfurt_000000"));
  CHECK(!json_id_key(nlohmann::json::array(), &key));
}

TEST_CASE("JSON: written files are valid UTF-8, keep key order, and doubles read back exactly",
          "[json]") {
  nlohmann::ordered_json v = {{"zeta", "bad \xff\xfe byte"}, {"alpha", std::nan("")}, {"mid", 1}};
  std::string text = json_dump(v);
  CHECK(text.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
  CHECK(text.find("\"alpha\":null") != std::string::npos);
  CHECK(text.find("zeta") < text.find("alpha"));
  nlohmann::json back;
  REQUIRE(json_parse(text, "dump", &back).ok());

  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  for (int i = 0; i < 1000; ++i) {
    double x = i % 2 ? uniform(rng) : double(float(uniform(rng) * 1e-6));
    REQUIRE(json_parse(json_dump(nlohmann::ordered_json(x)), "x", &back).ok());
    CHECK(back.get<double>() == x);
  }
}

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("atrous_test_json_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("panoptic JSON: ids and category ids that do not fit are errors", "[json][eval]") {
  TempDir dir;
  const std::string pred =
      dir.write("pred.json",
                R"({"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": []}]})");
  const char* bad[][2] = {
      {R"("id": 1e300, "category_id": 1)", "\"id\" must be an integer"},
      {R"("id": 16777216, "category_id": 1)", "out of range"},
      {R"("id": 5, "category_id": 4294967297)", "\"category_id\" = 4294967297 is out of range"},
      {R"("id": 5, "category_id": 1.5)", "\"category_id\" must be an integer"},
      {R"("id": 5, "category_id": 1, "iscrowd": 1e20)", "\"iscrowd\""},
  };
  for (const auto& c : bad) {
    std::string gt = dir.write(
        "gt.json", std::string(R"({"categories": [{"id": 1, "isthing": 1}], "annotations": [
          {"image_id": 1, "file_name": "a.png", "segments_info": [{)") +
                       c[0] + "}]}]}");
    PanopticDataset dataset;
    Status s = panoptic_dataset_load(gt, dir.path.string(), pred, dir.path.string(), &dataset);
    INFO(c[0] << " -> " << s.message());
    REQUIRE(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains(gt));
    CHECK_THAT(s.message(), Catch::Contains(c[1]));
  }
  std::string gt = dir.write("gt.json", R"({"categories": [{"id": 4294967297, "isthing": 1}]})");
  PanopticDataset dataset;
  CHECK_THAT(panoptic_dataset_load(gt, "", pred, "", &dataset).message(),
             Catch::Contains("out of range"));
  gt = dir.write("gt.json", "{\"categories\": [\n  {\"id\": 1,, }]}");
  Status s = panoptic_dataset_load(gt, "", pred, "", &dataset);
  CHECK_THAT(s.message(), Catch::Contains(gt + ": parse error at line 2"));
}

TEST_CASE("merge params JSON: integers beyond int32 or int64 are errors", "[json][panoptic]") {
  Status s;
  panoptic_params_from_json(R"({"thing_classes": [11], "label_divisor": 4294967297})", &s);
  CHECK_THAT(s.message(), Catch::Contains("label_divisor is out of range"));
  panoptic_params_from_json(R"({"thing_classes": [11], "top_k": 1e300})", &s);
  CHECK_THAT(s.message(), Catch::Contains("top_k must be an integer"));
  panoptic_params_from_json(R"({"thing_classes": [11, 18446744073709551615]})", &s);
  CHECK_THAT(s.message(), Catch::Contains("out-of-range integer"));
  panoptic_params_from_json(R"({"thing_classes": [4294967297]})", &s);
  CHECK_THAT(s.message(), Catch::Contains("thing class out of range"));
}
