// The strict JSON reader used by `atrous eval`: values, escapes, and errors with positions.
#include <catch2/catch.hpp>

#include "eval/json.h"

using namespace atrous;

TEST_CASE("JSON: values, nesting and escapes", "[eval]") {
  JsonValue v;
  REQUIRE(json_parse(R"( {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00",
                          "o": {}, "e": []} )",
                     &v)
              .ok());
  REQUIRE(v.is_object());
  const JsonValue* a = v.find("a");
  REQUIRE(a);
  REQUIRE(a->items.size() == 5);
  CHECK(a->items[0].number == 1);
  CHECK(a->items[1].number == -2500);
  CHECK(a->items[2].boolean);
  CHECK(a->items[4].type == JsonValue::Type::null_value);
  CHECK(v.find("s")->text == "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.find("o")->is_object());
  CHECK(v.find("e")->items.empty());
  CHECK(v.find("missing") == nullptr);
  std::string key;
  CHECK(json_id_key(a->items[0], &key));
  CHECK(key == "1");
  CHECK(json_id_key(*v.find("s"), &key));
}

TEST_CASE("JSON: corrupt input gives the line and column", "[eval]") {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"{\"a\": 1,}", "column 9"},
      {"{\"a\": 1\n \"b\": 2}", "line 2, column 2"},
      {"[1, 2", "expected ',' or ']'"},
      {"{\"a\": 01}", "leading zero"},
      {"\"abc", "unterminated string"},
      {"[1] [2]", "after the JSON value"},
      {"{\"a\": tru}", "unexpected character"},
      {"\"\\ud800\"", "surrogate"},
      {"\"\\q\"", "unknown escape"},
      {"", "unexpected end"},
      {"[NaN]", "unexpected character"},
  };
  for (const Case& c : cases) {
    JsonValue v;
    Status s = json_parse(c.text, &v);
    INFO(c.text);
    REQUIRE(!s.ok());
    CHECK(s.message().find(c.expect) != std::string::npos);
  }
  std::string deep(1000, '[');
  JsonValue v;
  CHECK(!json_parse(deep, &v).ok());
}
