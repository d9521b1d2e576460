// Typed key/value lists: node attributes and model metadata share this representation and the
// on-disk encoding of docs/FORMAT.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace atrous {

// Values are the on-disk codes of docs/FORMAT.md.
enum class AttributeType : uint8_t {
  attribute_int = 1,
  attribute_float = 2,
  attribute_string = 3,
  attribute_ints = 4,
  attribute_floats = 5,
  attribute_strings = 6,
};

const char* attribute_type_name(AttributeType type);

struct Attribute {
  std::string name;
  AttributeType type = AttributeType::attribute_int;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
};

class AttributeMap {
 public:
  const Attribute* find(const std::string& name) const;
  bool has(const std::string& name) const { return find(name) != nullptr; }

  // Typed getters: return `fallback` when the key is absent. When the key exists with another
  // type, `*type_ok` (if given) is set to false and the fallback is returned; callers that
  // validate input (op shape rules) pass it and turn a mismatch into an error.
  int64_t get_int(const std::string& name, int64_t fallback, bool* type_ok = nullptr) const;
  double get_float(const std::string& name, double fallback, bool* type_ok = nullptr) const;
  std::string get_string(const std::string& name, const std::string& fallback,
                         bool* type_ok = nullptr) const;
  std::vector<int64_t> get_ints(const std::string& name, const std::vector<int64_t>& fallback,
                                bool* type_ok = nullptr) const;
  std::vector<double> get_floats(const std::string& name, const std::vector<double>& fallback,
                                 bool* type_ok = nullptr) const;
  std::vector<std::string> get_strings(const std::string& name,
                                       const std::vector<std::string>& fallback,
                                       bool* type_ok = nullptr) const;

  // Setters replace an existing key of the same name.
  void set_int(const std::string& name, int64_t value);
  void set_float(const std::string& name, double value);
  void set_string(const std::string& name, const std::string& value);
  void set_ints(const std::string& name, const std::vector<int64_t>& value);
  void set_floats(const std::string& name, const std::vector<double>& value);
  void set_strings(const std::string& name, const std::vector<std::string>& value);
  void set(const Attribute& attribute);
  void erase(const std::string& name);

  const std::vector<Attribute>& items() const { return items_; }
  size_t size() const { return items_.size(); }

 private:
  Attribute& slot(const std::string& name, AttributeType type);
  std::vector<Attribute> items_;
};

// One-line rendering for `atrous info` and error messages, e.g. `strides=[2,2]`.
std::string attribute_value_to_string(const Attribute& attribute);

}  // namespace atrous
