// Recursive-descent JSON parser; see json.h. Nesting is limited so that hostile input cannot
// exhaust the stack.
#include "eval/json.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace atrous {

namespace {

constexpr int kMaxDepth = 256;

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Status parse(JsonValue* value) {
    skip_space();
    ATROUS_RETURN_IF_ERROR(parse_value(value, 0));
    skip_space();
    if (pos_ != text_.size()) return fail("unexpected data after the JSON value");
    return Status::success();
  }

 private:
  const std::string& text_;
  size_t pos_ = 0;

  Status fail(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return Status::error("invalid JSON at line " + std::to_string(line) + ", column " +
                         std::to_string(column) + ": " + what);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  Status parse_value(JsonValue* value, int depth) {
    if (depth > kMaxDepth) return fail("nesting deeper than " + std::to_string(kMaxDepth));
    if (pos_ >= text_.size()) return fail("unexpected end of input");
    char c = text_[pos_];
    if (c == '{') return parse_object(value, depth);
    if (c == '[') return parse_array(value, depth);
    if (c == '"') {
      value->type = JsonValue::Type::string;
      return parse_string(&value->text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(value);
    if (literal("true")) {
      value->type = JsonValue::Type::boolean;
      value->boolean = true;
      return Status::success();
    }
    if (literal("false")) {
      value->type = JsonValue::Type::boolean;
      value->boolean = false;
      return Status::success();
    }
    if (literal("null")) {
      value->type = JsonValue::Type::null_value;
      return Status::success();
    }
    return fail(std::string("unexpected character '") +
                (c >= 0x20 && c < 0x7f ? std::string(1, c) : "?") + "'");
  }

  Status parse_object(JsonValue* value, int depth) {
    value->type = JsonValue::Type::object;
    ++pos_;  // '{'
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return Status::success();
    }
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return fail("expected a member name in quotes");
      std::string key;
      ATROUS_RETURN_IF_ERROR(parse_string(&key));
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':')
        return fail("expected ':' after a member name");
      ++pos_;
      skip_space();
      value->members.emplace_back(std::move(key), JsonValue());
      ATROUS_RETURN_IF_ERROR(parse_value(&value->members.back().second, depth + 1));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return Status::success();
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  Status parse_array(JsonValue* value, int depth) {
    value->type = JsonValue::Type::array;
    ++pos_;  // '['
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Status::success();
    }
    while (true) {
      skip_space();
      value->items.emplace_back();
      ATROUS_RETURN_IF_ERROR(parse_value(&value->items.back(), depth + 1));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Status::success();
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  static void append_utf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      *out += char(code);
    } else if (code < 0x800) {
      *out += char(0xc0 | (code >> 6));
      *out += char(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      *out += char(0xe0 | (code >> 12));
      *out += char(0x80 | ((code >> 6) & 0x3f));
      *out += char(0x80 | (code & 0x3f));
    } else {
      *out += char(0xf0 | (code >> 18));
      *out += char(0x80 | ((code >> 12) & 0x3f));
      *out += char(0x80 | ((code >> 6) & 0x3f));
      *out += char(0x80 | (code & 0x3f));
    }
  }

  bool hex4(uint32_t* code) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return false;
    }
    pos_ += 4;
    *code = v;
    return true;
  }

  Status parse_string(std::string* out) {
    ++pos_;  // opening quote
    out->clear();
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return Status::success();
      }
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') {
        *out += char(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return fail("unterminated string");
      char e = text_[pos_++];
      switch (e) {
        case '"':
          *out += '"';
          break;
        case '\\':
          *out += '\\';
          break;
        case '/':
          *out += '/';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u': {
          uint32_t code = 0;
          if (!hex4(&code)) return fail("bad \\u escape");
          if (code >= 0xd800 && code < 0xdc00) {
            uint32_t low = 0;
            if (!(pos_ + 2 <= text_.size() && text_[pos_] == '\\' && text_[pos_ + 1] == 'u'))
              return fail("unpaired surrogate in \\u escape");
            pos_ += 2;
            if (!hex4(&low) || low < 0xdc00 || low > 0xdfff)
              return fail("unpaired surrogate in \\u escape");
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else if (code >= 0xdc00 && code < 0xe000) {
            return fail("unpaired surrogate in \\u escape");
          }
          append_utf8(code, out);
          break;
        }
        default:
          --pos_;
          return fail("unknown escape in a string");
      }
    }
  }

  Status parse_number(JsonValue* value) {
    size_t start = pos_;
    auto digit = [&](size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
    if (text_[pos_] == '-') ++pos_;
    if (!digit(pos_)) return fail("bad number");
    if (text_[pos_] == '0') {
      ++pos_;
      if (digit(pos_)) return fail("leading zero in a number");
    } else {
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digit(pos_)) return fail("bad number: digits must follow '.'");
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digit(pos_)) return fail("bad number: digits must follow the exponent");
      while (digit(pos_)) ++pos_;
    }
    value->type = JsonValue::Type::number;
    value->text = text_.substr(start, pos_ - start);
    value->number = std::strtod(value->text.c_str(), nullptr);
    return Status::success();
  }
};

}  // namespace

const JsonValue* JsonValue::find(const std::string& key) const {
  if (type != Type::object) return nullptr;
  for (size_t i = members.size(); i-- > 0;)
    if (members[i].first == key) return &members[i].second;
  return nullptr;
}

Status json_parse(const std::string& text, JsonValue* value) {
  *value = JsonValue();
  Parser parser(text);
  return parser.parse(value);
}

Status json_parse_file(const std::string& path, JsonValue* value) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::error(path + ": cannot open");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) return Status::error(path + ": read error");
  Status status = json_parse(buffer.str(), value);
  if (!status.ok()) return Status::error(path + ": " + status.message());
  return Status::success();
}

bool json_id_key(const JsonValue& value, std::string* key) {
  if (value.is_string()) {
    *key = value.text;
    return true;
  }
  if (value.is_number()) {
    double v = value.number;
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(v));
      *key = buffer;
    } else {
      *key = value.text;
    }
    return true;
  }
  return false;
}

}  // namespace atrous
