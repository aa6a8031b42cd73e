// Deck fuzzing: generated malformed decks go through hnet::parse_deck in process. Every one must
// be refused with a DeckError that names the problem at "<file>:<line>:<column>:", quickly and
// without a crash. The keys and their types come from the deck the parser itself prints, so a new
// key is fuzzed without touching this file. (The same through `hnet train`: cli_failures.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "hnet/deck.hpp"

namespace {

const char* const kSource = "fuzz.toml";

enum class Kind { integer, uinteger, floating, boolean, string, enumeration, int_list, float_list };

struct Key {
  std::string section, key, value;  // value as printed in the resolved deck
  Kind kind;
  std::int64_t lo = 0, hi = 0;       // integer range, where there is one
  int line = 0;                      // 1-based line in reference_deck()
  std::string name() const { return section + "." + key; }
};

const std::string& reference_deck() {
  static const std::string text = hnet::to_toml(hnet::default_deck());
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The schema, read back from the resolved deck: "key = value   # meaning; valid values".
const std::vector<Key>& keys() {
  static const std::vector<Key> all = [] {
    std::vector<Key> out;
    const std::regex header(R"(^\[(\w+)\]\s*$)"), entry(R"(^(\w+) = (.*?)\s+# (.*)$)");
    const std::regex int_range(R"(an integer in \[(-?\d+), (-?\d+)\]$)");
    const std::regex list_range(R"(a list of integers, each in \[(-?\d+), (-?\d+)\])");
    std::string section;
    const std::vector<std::string> lines = lines_of(reference_deck());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::smatch m;
      if (std::regex_match(lines[i], m, header)) {
        section = m[1];
        continue;
      }
      if (!std::regex_match(lines[i], m, entry)) continue;
      Key k;
      k.section = section, k.key = m[1], k.value = m[2], k.line = static_cast<int>(i + 1);
      const std::string valid = m[3];
      std::smatch r;
      if (std::regex_search(valid, r, int_range)) {
        k.kind = Kind::integer, k.lo = std::stoll(r[1]), k.hi = std::stoll(r[2]);
      } else if (valid.find("an integer >= 0") != std::string::npos) {
        k.kind = Kind::uinteger;
      } else if (std::regex_search(valid, r, list_range)) {
        k.kind = Kind::int_list, k.lo = std::stoll(r[1]), k.hi = std::stoll(r[2]);
      } else if (valid.find("a list of numbers") != std::string::npos) {
        k.kind = Kind::float_list;
      } else if (valid.find("a number in") != std::string::npos) {
        k.kind = Kind::floating;
      } else if (valid.find("true or false") != std::string::npos) {
        k.kind = Kind::boolean;
      } else if (valid.find("; one of ") != std::string::npos) {
        k.kind = Kind::enumeration;
      } else if (valid.find("string") != std::string::npos) {
        k.kind = Kind::string;
      } else {
        ADD_FAILURE() << "cannot tell the type of " << section << "." << k.key << " from: " << valid;
        continue;
      }
      out.push_back(k);
    }
    return out;
  }();
  return all;
}

// The reference deck with one key's line replaced: the error must point at that line.
std::string with_value(const Key& k, const std::string& value) {
  std::vector<std::string> lines = lines_of(reference_deck());
  lines[k.line - 1] = k.key + " = " + value;
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

std::string printable(const std::string& s) {
  std::string out;
  for (const char ch : s.substr(0, 400)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n\n";
    else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return s.size() > 400 ? out + "..." : out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Case {
  std::string what;    // for failure messages
  std::string text;    // the deck
  std::string expect;  // must occur in the message (case-insensitive); names the problem or the key
  int line = 0;        // the message must point at this line; 0 = any line
};

// Parses and checks; returns true when the deck was refused as it should be.
bool expect_refused(const Case& c) {
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  bool deck_error = false;
  try {
    hnet::parse_deck(c.text, kSource);
  } catch (const hnet::DeckError& e) {
    message = e.what(), deck_error = true;
  } catch (const std::exception& e) {
    ADD_FAILURE() << c.what << ": threw " << typeid(e).name() << " instead of DeckError: " << e.what()
                  << "\ndeck:\n" << printable(c.text);
    return false;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0) << c.what << ": parsing took " << seconds << " s";
  if (!deck_error) {
    ADD_FAILURE() << c.what << ": accepted, but it is malformed:\n" << printable(c.text);
    return false;
  }
  static const std::regex located(R"(fuzz\.toml:[0-9]+:[0-9]+: \S)");
  bool ok = true;
  if (!std::regex_search(message, located)) {
    ADD_FAILURE() << c.what << ": the message has no file:line:column:\n" << message;
    ok = false;
  }
  if (c.line > 0 && message.find(std::string(kSource) + ":" + std::to_string(c.line) + ":") == std::string::npos) {
    ADD_FAILURE() << c.what << ": the message does not point at line " << c.line << ":\n" << message;
    ok = false;
  }
  if (lower(message).find(lower(c.expect)) == std::string::npos) {
    ADD_FAILURE() << c.what << ": the message does not name '" << c.expect << "':\n" << message;
    ok = false;
  }
  return ok;
}

// Runs every case and checks there were at least `minimum` (so a broken generator cannot pass).
void run_all(const std::vector<Case>& cases, std::size_t minimum) {
  EXPECT_GE(cases.size(), minimum);
  std::size_t refused = 0;
  for (const Case& c : cases) refused += expect_refused(c);
  EXPECT_EQ(refused, cases.size());
  std::printf("%zu of %zu malformed decks refused with a located message\n", refused, cases.size());
}

}  // namespace

TEST(DeckFuzz, TheReferenceDeckAndEmptyDecksAreAccepted) {
  EXPECT_NO_THROW(hnet::parse_deck(reference_deck(), kSource));
  for (const char* text : {"", " ", "\n\n", "# only a comment\n", "\t\n  # x\n", "\xEF\xBB\xBF"}) {
    hnet::Deck d;
    EXPECT_NO_THROW(d = hnet::parse_deck(text, kSource)) << printable(text);
    EXPECT_EQ(hnet::to_toml(d), reference_deck()) << "not all defaults: " << printable(text);
  }
  EXPECT_GE(keys().size(), 50u) << "the key list read from the resolved deck is too short";
}

TEST(DeckFuzz, WrongTypeForEveryKey) {
  std::vector<Case> cases;
  for (const Key& k : keys()) {
    std::vector<std::string> values;
    switch (k.kind) {
      case Kind::integer:
      case Kind::uinteger: values = {"\"12\"", "1.5", "true", "[1]", "{ a = 1 }", "1979-05-27", "2.0"}; break;
      case Kind::floating: values = {"\"0.5\"", "true", "[0.5]", "{ a = 0.5 }", "07:32:00", "1979-05-27T07:32:00Z"}; break;
      case Kind::boolean: values = {"1", "0", "\"true\"", "[true]", "{ a = true }", "1.0"}; break;
      case Kind::string: values = {"5", "true", "[\"a\"]", "{ a = \"b\" }", "1.5", "1979-05-27"}; break;
      case Kind::enumeration: values = {"5", "true", "[\"x\"]", "{ a = 1 }", "1.5", "\"not_a_choice\"", "\"\""}; break;
      case Kind::int_list: values = {"4", "\"4, 8\"", "true", "{ a = 1 }", "[\"a\"]", "[1.5]", "[true]", "[[1]]"}; break;
      case Kind::float_list: values = {"0.5", "\"0.5\"", "true", "{ a = 1 }", "[\"a\"]", "[true]", "[[0.5]]"}; break;
    }
    for (const std::string& v : values)
      cases.push_back({k.name() + " = " + v, with_value(k, v), k.name(), k.line});
  }
  run_all(cases, 300);
}

TEST(DeckFuzz, NegativeZeroAndHugeNumbers) {
  std::vector<Case> cases;
  for (const Key& k : keys()) {
    if (k.kind == Kind::integer) {
      if (k.lo >= 1) cases.push_back({k.name() + " = 0", with_value(k, "0"), k.name(), k.line});
      cases.push_back({k.name() + " = lo-1", with_value(k, std::to_string(k.lo - 1)), "must be", k.line});
      cases.push_back({k.name() + " = -5", with_value(k, "-5"), k.name(), k.line});
      cases.push_back({k.name() + " = hi+1", with_value(k, std::to_string(k.hi + 1)), "must be", k.line});
      cases.push_back({k.name() + " = int64 max", with_value(k, "9223372036854775807"), k.name(), k.line});
    }
    if (k.kind == Kind::uinteger) cases.push_back({k.name() + " = -1", with_value(k, "-1"), k.name(), k.line});
    if (k.kind == Kind::integer || k.kind == Kind::uinteger || k.kind == Kind::floating) {
      // 2^70 and 1e400 do not fit the TOML reader's types at all.
      cases.push_back({k.name() + " = 2^70", with_value(k, "1180591620717411303424"), "not representable", k.line});
      cases.push_back({k.name() + " = -2^70", with_value(k, "-1180591620717411303424"), "not representable", k.line});
      cases.push_back({k.name() + " = 1e400", with_value(k, "1e400"), "1e400", k.line});
      cases.push_back({k.name() + " = -1e400", with_value(k, "-1e400"), "1e400", k.line});
      cases.push_back({k.name() + " = 2^70 written out", with_value(k, "2 ^ 70"), "syntax", k.line});
    }
    if (k.kind == Kind::floating) {
      cases.push_back({k.name() + " = 1e300", with_value(k, "1e300"), "must be", k.line});
      cases.push_back({k.name() + " = -1e300", with_value(k, "-1e300"), "must be", k.line});
    }
    if (k.kind == Kind::int_list) {
      const std::string below = std::to_string(k.lo - 1), above = std::to_string(k.hi + 1);
      cases.push_back({k.name() + " = [4, lo-1]", with_value(k, "[4, " + below + "]"), k.name() + "[1]", k.line});
      cases.push_back({k.name() + " = [hi+1]", with_value(k, "[" + above + "]"), k.name() + "[0]", k.line});
      cases.push_back({k.name() + " = [-3]", with_value(k, "[-3]"), k.name() + "[0]", k.line});
      cases.push_back({k.name() + " = [2^70]", with_value(k, "[1180591620717411303424]"), "not representable", k.line});
    }
    if (k.kind == Kind::float_list)
      cases.push_back({k.name() + " = [1e300]", with_value(k, "[1e300]"), k.name() + "[0]", k.line});
  }
  run_all(cases, 150);
}

TEST(DeckFuzz, NanAndInfinity) {
  std::vector<Case> cases;
  for (const Key& k : keys()) {
    if (k.kind == Kind::floating)
      for (const char* v : {"nan", "+nan", "-nan", "inf", "+inf", "-inf"})
        cases.push_back({k.name() + " = " + v, with_value(k, v), "finite", k.line});
    if (k.kind == Kind::float_list)
      for (const char* v : {"[nan]", "[0.0, inf]", "[-inf]"})
        cases.push_back({k.name() + " = " + v, with_value(k, v), "finite", k.line});
    if (k.kind == Kind::integer || k.kind == Kind::uinteger)
      cases.push_back({k.name() + " = nan", with_value(k, "nan"), "expected integer", k.line});
  }
  run_all(cases, 100);
}

TEST(DeckFuzz, UnknownKeysAndSections) {
  std::vector<Case> cases;
  std::vector<std::string> sections;
  for (const Key& k : keys())
    if (std::find(sections.begin(), sections.end(), k.section) == sections.end()) sections.push_back(k.section);
  for (const std::string& s : sections) {
    cases.push_back({"[" + s + "] bogus", "[" + s + "]\nbogus_key = 1\n", "unknown key", 2});
    cases.push_back({"[" + s + "x]", "[" + s + "x]\n", "unknown section", 1});
    cases.push_back({"[" + s + "] as array of tables", "[[" + s + "]]\n", "expected a table", 1});
    cases.push_back({"[" + s + "] as a value", s + " = 5\n", "expected a table", 1});
    cases.push_back({"[" + s + ".sub]", "[" + s + ".sub]\nx = 1\n", "unknown key", 1});
  }
  for (const Key& k : keys()) {
    // A near miss gets a suggestion; a key at the top or in the wrong section is named as such.
    const std::string typo = k.key.substr(0, k.key.size() - 1) + (k.key.back() == 'x' ? "y" : "x");
    cases.push_back({k.name() + " misspelt", "\n[" + k.section + "]\n" + typo + " = " + k.value + "\n", "unknown key", 3});
    // A key that shares its name with a section (task.target) reads as that section.
    const bool section_name = std::find(sections.begin(), sections.end(), k.key) != sections.end();
    cases.push_back({k.name() + " outside its section", k.key + " = " + k.value + "\n",
                     section_name ? "expected a table" : "unknown section", 1});
  }
  cases.push_back({"Train capitalised", "[Train]\nsteps = 5\n", "unknown section", 1});
  cases.push_back({"quoted odd section", "[\"tr ain\"]\n", "unknown section", 1});
  cases.push_back({"dotted key", "train.stepz = 5\n", "unknown key", 1});
  run_all(cases, 100);
}

TEST(DeckFuzz, DuplicateKeysAndSections) {
  std::vector<Case> cases;
  for (const Key& k : keys()) {
    cases.push_back({k.name() + " twice", "[" + k.section + "]\n" + k.key + " = " + k.value + "\n" + k.key + " = " +
                                              k.value + "\n",
                     "redefine", 3});
    cases.push_back({k.name() + " twice, dotted", k.section + "." + k.key + " = " + k.value + "\n[" + k.section +
                                                      "]\n" + k.key + " = " + k.value + "\n",
                     "redefine", 2});
  }
  for (const char* s : {"task", "train", "output"})
    cases.push_back({std::string("[") + s + "] twice", std::string("[") + s + "]\n\n[" + s + "]\n", "redefine", 3});
  run_all(cases, 100);
}

TEST(DeckFuzz, CrossKeyProblemsPointAtALine) {
  const std::vector<Case> cases = {
      {"heads not dividing d", "[model]\nd = 30\nheads = 4\n", "multiple of model.heads", 3},
      // A cross-key problem points at one of its keys (which one follows toml++'s key order).
      {"beta range reversed", "[train]\nlog10_beta_min = 2.0\nlog10_beta_max = 1.0\n", "log10_beta_min", 0},
      {"fixed_beta without betas", "[parallel]\nmode = \"fixed_beta\"\n", "fixed_log10_betas", 2},
      {"fixed beta outside range", "[parallel]\nmode = \"fixed_beta\"\nfixed_log10_betas = [5.0]\n", "outside", 0},
      {"ranks above batch", "[train]\nbatch_beta = 2\n[parallel]\nranks_per_group = 4\n", "ranks_per_group", 0},
      {"too many edges", "[target]\nn = 4096\n", "edges", 2},
      {"sizes repeated", "[sweep]\nsizes = [4, 8, 4]\n", "listed twice", 2},
      {"steps repeated", "[sweep]\nsteps = [1, 1]\n", "listed twice", 2},
      {"sweep step beyond train.steps", "[train]\nsteps = 10\n[sweep]\nsteps = [11]\n", "beyond train.steps", 0},
      {"generalisation size too large", "[target]\nhidden_ratio = 64\n[sweep]\nsizes = [4096]\n", "edges", 0},
  };
  run_all(cases, 10);
}

TEST(DeckFuzz, TruncatedPrefixesOfAValidDeck) {
  // Every prefix of the reference deck: a cut inside a header, a key, a string, an array or a
  // keyword must be refused; a cut elsewhere may leave a valid deck (a shorter number, a cut
  // comment), and then it must parse without crashing or must be refused with a location.
  const std::string& full = reference_deck();
  std::vector<Case> must_fail;
  std::size_t other = 0;
  for (std::size_t cut = 1; cut < full.size(); ++cut) {
    const std::string text = full.substr(0, cut);
    const std::size_t bol = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    const std::string tail = text.substr(bol);
    const int line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    const std::size_t eq = tail.find(" = ");
    std::string value = eq == std::string::npos ? "" : tail.substr(eq + 3);
    if (value.find('#') != std::string::npos) value.clear();  // the value is complete; a comment was cut
    const bool in_header = !tail.empty() && tail[0] == '[' && tail.find(']') == std::string::npos;
    const bool bare_key = !tail.empty() && tail[0] != '#' && tail[0] != '[' && tail.find('=') == std::string::npos;
    const bool no_value = eq != std::string::npos && tail.find('#') == std::string::npos &&
                          value.find_first_not_of(' ') == std::string::npos;
    const bool open_string = !value.empty() && value[0] == '"' && std::count(value.begin(), value.end(), '"') == 1;
    const bool open_array = !value.empty() && value[0] == '[' && value.find(']') == std::string::npos;
    const bool cut_keyword = !value.empty() && value.find(' ') == std::string::npos &&
                             ((std::string("true").rfind(value, 0) == 0 && value != "true") ||
                              (std::string("false").rfind(value, 0) == 0 && value != "false"));
    if (in_header || bare_key || no_value || open_string || open_array || cut_keyword) {
      must_fail.push_back({"prefix of " + std::to_string(cut) + " bytes", text, "syntax", line});
      continue;
    }
    ++other;
    try {
      hnet::parse_deck(text, kSource);
    } catch (const hnet::DeckError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(kSource) + ":"), std::string::npos)
          << "prefix of " << cut << " bytes: " << e.what();
    }
  }
  std::printf("%zu other prefixes parsed or refused with a location\n", other);
  run_all(must_fail, 300);
}

TEST(DeckFuzz, InvalidUtf8) {
  const std::vector<std::string> bad = {"\xff", "\xfe\xff", "\xc3", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80",
                                        "\xf8\x88\x80\x80\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\x80"};
  std::vector<Case> cases;
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const std::string& b = bad[i];
    const std::string id = "bytes #" + std::to_string(i);
    cases.push_back({id + " in a string", "[output]\ndir = \"results/" + b + "x\"\n", "utf-8", 2});
    cases.push_back({id + " in an enum", "[task]\ninput = \"" + b + "\"\n", "utf-8", 2});
    cases.push_back({id + " in a comment", "[train]\n# note " + b + "\nsteps = 5\n", "utf-8", 2});
    cases.push_back({id + " in a key", "[train]\nst" + b + "eps = 5\n", "utf-8", 2});
    cases.push_back({id + " in a header", "\n\n[tr" + b + "ain]\n", "utf-8", 3});
    cases.push_back({id + " first", b + "[train]\n", "utf-8", 1});
  }
  run_all(cases, 60);
}

TEST(DeckFuzz, BinaryGarbage) {
  std::mt19937_64 random(20240229);
  std::vector<Case> cases;
  for (int i = 0; i < 60; ++i) {
    std::uniform_int_distribution<int> length(1, 600), byte(0, 255);
    std::string text(static_cast<std::size_t>(length(random)), '\0');
    for (char& c : text) c = static_cast<char>(byte(random));
    // A NUL is never valid TOML, not even in a comment: each case is certainly malformed.
    text[std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(random)] = '\0';
    cases.push_back({"garbage #" + std::to_string(i), text, "syntax", 0});
  }
  for (int i = 0; i < 20; ++i) {
    // Printable garbage: TOML-looking punctuation that never makes a whole deck.
    const std::string alphabet = "[]{}=\"'#.,:+-_ \n\t0123456789abcdefxyz";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), length(2, 200);
    std::string text = "=";
    const std::size_t n = length(random);
    for (std::size_t k = 0; k < n; ++k) text += alphabet[pick(random)];
    cases.push_back({"printable garbage #" + std::to_string(i), text, "syntax", 1});
  }
  cases.push_back({"CR line endings", "[train]\rsteps = 5\r", "syntax", 0});
  cases.push_back({"deep nesting", "[sweep]\nsizes = " + std::string(5000, '[') + std::string(5000, ']') + "\n", "", 2});
  cases.push_back({"long key", "[train]\n" + std::string(100000, 'k') + " = 1\n", "unknown key", 2});
  std::string many = "[train]\n";
  for (int i = 0; i < 2000; ++i) many += "unknown_" + std::to_string(i) + " = 1\n";
  cases.push_back({"many problems", many, "more problems not shown", 2});
  run_all(cases, 80);
}
