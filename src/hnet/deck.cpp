#include "hnet/deck.hpp"

// Debian ships toml++ as a compiled shared library; without these the header would
// compile the whole parser into this file as well. A build that sets them keeps its choice.
#if !defined(TOML_HEADER_ONLY)
#define TOML_HEADER_ONLY 0
#if !defined(TOML_SHARED_LIB)
#define TOML_SHARED_LIB 1
#endif
#endif
// CUDA's and HIP's headers define __noinline__ as a macro, which breaks toml++'s
// `__has_attribute(__noinline__)`; it is lifted for the include (CUDA builds compile this file
// with the host compiler alone, see src/hnet/CMakeLists.txt, so this matters for HIP).
#if defined(__noinline__)
#pragma push_macro("__noinline__")
#undef __noinline__
#define HNET_TOML_RESTORE_NOINLINE
#endif
#include <toml++/toml.h>
#if defined(HNET_TOML_RESTORE_NOINLINE)
#pragma pop_macro("__noinline__")
#undef HNET_TOML_RESTORE_NOINLINE
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace hnet {
namespace {

// ---------------------------------------------------------------------------
// Enum spellings: index i is the deck name of the enumerator with value i.

template <class E>
struct EnumNames;
template <>
struct EnumNames<InputDistribution> {
  static constexpr std::array<const char*, 2> names{{"normal", "uniform"}};
};
template <>
struct EnumNames<TargetNorm> {
  static constexpr std::array<const char*, 3> names{{"l1", "l2sq", "linf"}};
};
template <>
struct EnumNames<Readout> {
  static constexpr std::array<const char*, 2> names{{"edge", "edge_bilinear"}};
};
template <>
struct EnumNames<Prior> {
  static constexpr std::array<const char*, 2> names{{"standard", "learned"}};
};
template <>
struct EnumNames<SigmaParam> {
  static constexpr std::array<const char*, 2> names{{"bounded", "softplus"}};
};
template <>
struct EnumNames<IdentityDraw> {
  static constexpr std::array<const char*, 4> names{{"fixed", "per_network", "positional", "shifted"}};
};
template <>
struct EnumNames<Objective> {
  static constexpr std::array<const char*, 3> names{{"log_sum", "sum", "log_loss"}};
};
template <>
struct EnumNames<NonFinitePolicy> {
  static constexpr std::array<const char*, 2> names{{"stop", "skip"}};
};
template <>
struct EnumNames<CurriculumDirection> {
  static constexpr std::array<const char*, 4> names{{"up", "down", "ends", "low_then_ends"}};
};
template <>
struct EnumNames<ParallelMode> {
  static constexpr std::array<const char*, 2> names{{"seeds", "fixed_beta"}};
};

template <class E>
const char* enum_name(E e) {
  const auto& names = EnumNames<E>::names;
  const auto i = static_cast<std::size_t>(e);
  return i < names.size() ? names[i] : "<invalid>";
}

}  // namespace

const char* to_string(InputDistribution e) { return enum_name(e); }
const char* to_string(TargetNorm e) { return enum_name(e); }
const char* to_string(Readout e) { return enum_name(e); }
const char* to_string(Prior e) { return enum_name(e); }
const char* to_string(SigmaParam e) { return enum_name(e); }
const char* to_string(IdentityDraw e) { return enum_name(e); }
const char* to_string(Objective e) { return enum_name(e); }
const char* to_string(NonFinitePolicy e) { return enum_name(e); }
const char* to_string(CurriculumDirection e) { return enum_name(e); }
const char* to_string(ParallelMode e) { return enum_name(e); }

namespace {

// ---------------------------------------------------------------------------
// Number formatting shared by the printer and the error messages.

// Fewest significant digits that read back to the same double, so printed decks
// reproduce every bit (ranks that parse the broadcast text agree exactly).
// snprintf/strtod rather than std::to_chars: floating to_chars needs GCC 11+.
std::string shortest_double(double x) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    const double back = std::strtod(buf, nullptr);
    if (back == x && std::signbit(back) == std::signbit(x)) break;
  }
  return buf;
}

// TOML reads "1" as an integer; a float key must print as "1.0".
std::string toml_double(double x) {
  std::string s = shortest_double(x);
  if (s.find_first_of(".eEni") == std::string::npos) s += ".0";
  return s;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The closest candidate when it is close enough to be a plausible typo.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  const std::size_t allowed = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// The schema: one entry per deck key. Parsing, validation, printing and the
// markdown reference all read this table and nothing else.

using Value = std::variant<int64_t, uint64_t, double, bool, std::string, std::vector<int64_t>,
                           std::vector<double>>;

enum class Kind { integer, uinteger, floating, boolean, string, enumeration, int_list, float_list };

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct IntRange {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = kInt64Max;
};

struct FloatRange {
  double lo = -kInf;
  double hi = kInf;
  bool lo_open = false;
  bool hi_open = false;
};

IntRange ints(int64_t lo, int64_t hi) { return {lo, hi}; }
FloatRange closed(double lo, double hi) { return {lo, hi, false, false}; }
FloatRange open_closed(double lo, double hi) { return {lo, hi, true, false}; }
FloatRange closed_open(double lo, double hi) { return {lo, hi, false, true}; }

// Bounds: generous for any machine we may run on, tight enough to catch a slip of
// the keyboard (an extra zero) before it allocates terabytes.
constexpr int64_t kMaxWidth = 4096;                 // n, d, d_r, MLP widths
constexpr int64_t kMaxSteps = 1'000'000'000;        // any step count
constexpr int64_t kMaxCount = int64_t{1} << 20;     // batches, seeds, grid points
constexpr int64_t kMaxEdges = int64_t{1} << 24;     // edges of one target network
constexpr double kMaxLog10Beta = 30.0;
constexpr std::size_t kMaxListLength = 1u << 16;

struct Field {
  std::string section;
  std::string key;
  Kind kind = Kind::integer;
  IntRange int_range;      // integer, uinteger, int_list (per entry)
  FloatRange float_range;  // floating, float_list (per entry)
  std::size_t max_length = 0;        // lists
  std::vector<std::string> choices;  // enumeration
  std::string meaning;
  std::function<Value(const Deck&)> get;
  std::function<void(Deck&, Value)> set;

  std::string name() const { return section + "." + key; }
};

struct Section {
  std::string name;
  std::string meaning;
};

// A rule relating several keys, run once the deck is complete.
struct CrossCheck {
  std::vector<std::string> keys;  // "section.key"; the first one names the error
  std::string rule;
  std::function<std::string(const Deck&)> problem;  // empty when the rule holds
};

struct Schema {
  std::vector<Section> sections;
  std::vector<Field> fields;
  std::vector<CrossCheck> checks;

  const Section* find_section(std::string_view name) const {
    for (const Section& s : sections)
      if (s.name == name) return &s;
    return nullptr;
  }
  std::optional<std::size_t> find_field(std::string_view section, std::string_view key) const {
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].section == section && fields[i].key == key) return i;
    return std::nullopt;
  }
  std::optional<std::size_t> find_field(std::string_view dotted) const {
    const auto dot = dotted.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    return find_field(dotted.substr(0, dot), dotted.substr(dot + 1));
  }
  std::vector<std::string> section_names() const {
    std::vector<std::string> out;
    for (const Section& s : sections) out.push_back(s.name);
    return out;
  }
  std::vector<std::string> keys_of(std::string_view section) const {
    std::vector<std::string> out;
    for (const Field& f : fields)
      if (f.section == section) out.push_back(f.key);
    return out;
  }
};

// Adds the keys of one section; the member pointer fixes each key's type.
template <class S>
class SectionFields {
 public:
  SectionFields(Schema& schema, const char* name, S Deck::*member, const char* meaning)
      : schema_(schema), name_(name), member_(member) {
    schema_.sections.push_back({name, meaning});
  }

  void add(const char* key, int64_t S::*m, IntRange range, const char* meaning) {
    Field& f = push(key, Kind::integer, meaning);
    f.int_range = range;
    bind(f, m);
  }
  // Seeds: any non-negative TOML integer (TOML integers are signed 64-bit).
  void add(const char* key, uint64_t S::*m, const char* meaning) {
    Field& f = push(key, Kind::uinteger, meaning);
    f.int_range = ints(0, kInt64Max);
    bind(f, m);
  }
  void add(const char* key, double S::*m, FloatRange range, const char* meaning) {
    Field& f = push(key, Kind::floating, meaning);
    f.float_range = range;
    bind(f, m);
  }
  void add(const char* key, bool S::*m, const char* meaning) {
    bind(push(key, Kind::boolean, meaning), m);
  }
  void add(const char* key, std::string S::*m, const char* meaning) {
    bind(push(key, Kind::string, meaning), m);
  }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void add(const char* key, E S::*m, const char* meaning) {
    Field& f = push(key, Kind::enumeration, meaning);
    for (const char* n : EnumNames<E>::names) f.choices.emplace_back(n);
    S Deck::*section = member_;
    f.get = [section, m](const Deck& d) {
      return Value(std::in_place_type<std::string>, enum_name(d.*section.*m));
    };
    // Only names already checked against `choices` arrive here.
    f.set = [section, m](Deck& d, Value v) {
      const auto& names = EnumNames<E>::names;
      const std::string& s = std::get<std::string>(v);
      for (std::size_t i = 0; i < names.size(); ++i)
        if (s == names[i]) d.*section.*m = static_cast<E>(i);
    };
  }
  void add(const char* key, std::vector<int64_t> S::*m, IntRange each, std::size_t max_length,
           const char* meaning) {
    Field& f = push(key, Kind::int_list, meaning);
    f.int_range = each;
    f.max_length = max_length;
    bind(f, m);
  }
  void add(const char* key, std::vector<double> S::*m, FloatRange each, std::size_t max_length,
           const char* meaning) {
    Field& f = push(key, Kind::float_list, meaning);
    f.float_range = each;
    f.max_length = max_length;
    bind(f, m);
  }

 private:
  Field& push(const char* key, Kind kind, const char* meaning) {
    Field f;
    f.section = name_;
    f.key = key;
    f.kind = kind;
    f.meaning = meaning;
    schema_.fields.push_back(std::move(f));
    return schema_.fields.back();
  }
  template <class T>
  void bind(Field& f, T S::*m) {
    S Deck::*section = member_;
    f.get = [section, m](const Deck& d) { return Value(std::in_place_type<T>, d.*section.*m); };
    f.set = [section, m](Deck& d, Value v) { d.*section.*m = std::get<T>(std::move(v)); };
  }

  Schema& schema_;
  const char* name_;
  S Deck::*member_;
};

std::string int_range_text(IntRange r) {
  if (r.hi == kInt64Max) return ">= " + std::to_string(r.lo);
  return "[" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]";
}

// Bounds read better as "1000" than as "1e+03".
std::string bound_text(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e16) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
  }
  return shortest_double(x);
}

std::string float_range_text(FloatRange r) {
  if (r.hi == kInf) return (r.lo_open ? "> " : ">= ") + bound_text(r.lo);
  return std::string(r.lo_open ? "(" : "[") + bound_text(r.lo) + ", " + bound_text(r.hi) +
         (r.hi_open ? ")" : "]");
}

bool in_range(double x, FloatRange r) {
  return (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi);
}

// The first value (in list order) that occurs earlier in the list too; lists may hold 65536 entries.
std::optional<int64_t> first_repeat(const std::vector<int64_t>& values) {
  std::vector<std::pair<int64_t, std::size_t>> sorted;  // (value, position)
  for (std::size_t i = 0; i < values.size(); ++i) sorted.emplace_back(values[i], i);
  std::sort(sorted.begin(), sorted.end());
  std::optional<std::size_t> first;
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].first == sorted[i - 1].first && (!first || sorted[i].second < *first)) first = sorted[i].second;
  if (!first) return std::nullopt;
  return values[*first];
}

// One function per deck section: its keys, ranges and meanings.
void add_task_keys(Schema& s) {
  SectionFields<TaskConfig> t(s, "task", &Deck::task, "The regression task (model.md 1, 8).");
  t.add("input", &TaskConfig::input, "distribution of each input x_i: N(0,1) or U[-1,1]");
  t.add("target", &TaskConfig::target, "target y: sum |x_i| (reference), sum x_i^2, or max |x_i|");
  t.add("eval_size", &TaskConfig::eval_size, ints(1, int64_t{1} << 24),
        "inputs in the fixed evaluation set");
  t.add("eval_seed", &TaskConfig::eval_seed, "seed of the fixed evaluation set");
}

void add_target_keys(Schema& s) {
  SectionFields<TargetConfig> t(s, "target", &Deck::target,
                                "The generated two-layer swish MLP n -> m -> 1 (model.md 2).");
  t.add("n", &TargetConfig::n, ints(1, kMaxWidth), "input dimension n used in training");
  t.add("hidden_ratio", &TargetConfig::hidden_ratio, ints(1, 64), "hidden width m = hidden_ratio * n");
}

void add_model_keys(Schema& s) {
  SectionFields<ModelConfig> m(s, "model", &Deck::model,
                               "The graph hypernetwork and its beta conditioning (model.md 4-6).");
  m.add("d", &ModelConfig::d, ints(1, kMaxWidth), "node and edge state width d; a multiple of heads");
  m.add("heads", &ModelConfig::heads, ints(1, 256), "attention heads H, each of width d/H");
  m.add("blocks", &ModelConfig::blocks, ints(1, 64),
        "graph-transformer blocks in the encoder and in the decoder (K_enc = K_dec)");
  m.add("latent", &ModelConfig::latent, ints(1, 1024), "latent width k per node and edge per level");
  m.add("identity_dim", &ModelConfig::identity_dim, ints(1, kMaxWidth), "identity feature width d_r");
  m.add("identity_seed", &ModelConfig::identity_seed, "seed of the identity features r_v");
  m.add("identity_scale", &ModelConfig::identity_scale, closed(0.0, 1000.0),
        "factor on the identity features r_v (0 removes them)");
  m.add("identity_draw", &ModelConfig::identity_draw,
        "fixed: one r_v per node index; per_network: r_v drawn afresh for every generated network; "
        "positional: r_v a function of the node's relative position index/(count-1) within its type; "
        "shifted: in training, network b sees the fixed r_v of index i+o (inputs) and j+hidden_ratio*o "
        "(hidden units), o drawn per network and step from 0..identity_shift; o = 0 in evaluation");
  m.add("identity_frequency", &ModelConfig::identity_frequency, closed(0.0, 1000.0),
        "positional identity features: spread of their frequencies, in cycles over a type's index range");
  m.add("identity_shift", &ModelConfig::identity_shift, ints(0, 4096),
        "shifted identity features: largest offset o of the input indices");
  m.add("type_scale", &ModelConfig::type_scale, closed(0.0, 1000.0),
        "standard deviation of the initial type vectors T, S (encoder and decoder)");
  m.add("phi_hidden", &ModelConfig::phi_hidden, ints(1, kMaxWidth), "hidden width of MLP_phi");
  m.add("phi_dim", &ModelConfig::phi_dim, ints(1, 1024), "width d_phi of the beta code phi(beta)");
  m.add("u_init", &ModelConfig::u_init, closed(0.0, 10.0), "U starts uniform in +-u_init");
  m.add("readout", &ModelConfig::readout,
        "edge: W0 from the edge state; edge_bilinear adds <A h_i, B h_j>/sqrt(d)");
  m.add("prior", &ModelConfig::prior, "latent prior: fixed N(0, s^2 I), or learned from the decoder");
  m.add("sigma", &ModelConfig::sigma,
        "posterior sigma: prior_scale*sigmoid(rho) (prior scaled too), or softplus(rho)+1e-4");
  m.add("prior_scale", &ModelConfig::prior_scale, open_closed(0.0, 1000.0),
        "sigma_p: prior spread and cap on sigma when sigma = bounded");
  m.add("rho_bias_init", &ModelConfig::rho_bias_init, closed(-100.0, 100.0),
        "initial bias of the posterior rho outputs");
  m.add("posterior_identity", &ModelConfig::posterior_identity,
        "add Linear_r(r_v) to the posterior: a direct identity route");
}

void add_train_keys(Schema& s) {
  SectionFields<TrainConfig> t(s, "train", &Deck::train, "Training (model.md 7).");
  t.add("steps", &TrainConfig::steps, ints(1, kMaxSteps), "optimizer steps");
  t.add("batch_beta", &TrainConfig::batch_beta, ints(1, kMaxCount), "networks (beta draws) per step B_beta");
  t.add("batch_x", &TrainConfig::batch_x, ints(1, kMaxCount), "inputs per network per step B_x");
  t.add("log10_beta_min", &TrainConfig::log10_beta_min, closed(-kMaxLog10Beta, kMaxLog10Beta),
        "low end lo of the training range of log10 beta");
  t.add("log10_beta_max", &TrainConfig::log10_beta_max, closed(-kMaxLog10Beta, kMaxLog10Beta),
        "high end hi of the training range of log10 beta");
  t.add("objective", &TrainConfig::objective,
        "per network: ln(L + beta KL), L + beta KL, or ln L + beta KL");
  t.add("lr", &TrainConfig::lr, open_closed(0.0, 10.0), "peak Adam learning rate");
  t.add("warmup_steps", &TrainConfig::warmup_steps, ints(0, kMaxSteps),
        "steps of linear learning-rate warm-up");
  t.add("lr_final_fraction", &TrainConfig::lr_final_fraction, closed(0.0, 1.0),
        "cosine decay ends at lr * lr_final_fraction");
  t.add("clip_norm", &TrainConfig::clip_norm, open_closed(0.0, 1e12),
        "global gradient-norm clipping threshold");
  t.add("adam_beta1", &TrainConfig::adam_beta1, closed_open(0.0, 1.0), "Adam first-moment decay");
  t.add("adam_beta2", &TrainConfig::adam_beta2, closed_open(0.0, 1.0), "Adam second-moment decay");
  t.add("adam_eps", &TrainConfig::adam_eps, open_closed(0.0, 1.0), "Adam epsilon");
  t.add("kl_warmup_steps", &TrainConfig::kl_warmup_steps, ints(0, kMaxSteps),
        "the beta*KL term ramps from 0 to full over this many steps; 0 = off");
  t.add("beta_curriculum", &TrainConfig::beta_curriculum,
        "sample log10 beta in [lo, lo+1] first, then widen to hi");
  t.add("curriculum_direction", &TrainConfig::curriculum_direction,
        "up: hold [lo, lo+1], then raise the upper end to hi; down: hold [hi-1, hi], then lower the "
        "lower end to lo; ends: hold [lo, lo+1] and [hi-1, hi] at once, then widen both to meet in the middle; "
        "low_then_ends: hold [lo, lo+1] alone, then add [hi-1, hi] and widen both to meet in the middle");
  t.add("curriculum_hold_steps", &TrainConfig::curriculum_hold_steps, ints(0, kMaxSteps),
        "curriculum: steps before widening (S1)");
  t.add("curriculum_widen_steps", &TrainConfig::curriculum_widen_steps, ints(0, kMaxSteps),
        "curriculum: steps over which the moving end reaches hi (up) or lo (down) (S2)");
  t.add("sizes", &TrainConfig::sizes, ints(1, kMaxWidth), 64,
        "input sizes n of the generated networks, one drawn per step for all of its networks; "
        "empty = target.n only");
  t.add("sizes_hold_steps", &TrainConfig::sizes_hold_steps, ints(0, kMaxSteps),
        "steps trained at target.n alone before the sizes of train.sizes are drawn; 0 = from the start");
  t.add("sizes_widen_steps", &TrainConfig::sizes_widen_steps, ints(0, kMaxSteps),
        "after the hold, steps over which the sizes drawn widen from those nearest target.n to all of "
        "train.sizes; 0 = all at once");
  t.add("seed", &TrainConfig::seed, "run seed: initialisation, latent noise, inputs, beta draws");
  t.add("nonfinite", &TrainConfig::nonfinite,
        "on a non-finite loss or gradient: stop the run, or skip the step");
}

void add_sweep_keys(Schema& s) {
  SectionFields<SweepConfig> w(s, "sweep", &Deck::sweep,
                               "Evaluation sweep and classification (model.md 8, 9).");
  w.add("beta_points", &SweepConfig::beta_points, ints(1, kMaxCount),
        "beta values, log-spaced over [log10_beta_min, log10_beta_max]");
  w.add("generation_seeds", &SweepConfig::generation_seeds, ints(1, kMaxCount),
        "networks generated per beta (G)");
  w.add("sizes", &SweepConfig::sizes, ints(1, kMaxWidth), 1024,
        "input sizes n' of the generalisation test; empty = none");
  w.add("steps", &SweepConfig::steps, ints(0, kMaxSteps), kMaxListLength,
        "training steps of the saved models to evaluate; empty = every saved model");
  w.add("posterior_mean", &SweepConfig::posterior_mean,
        "also evaluate networks generated from the posterior mean");
  w.add("trivial_loss", &SweepConfig::trivial_loss, closed(0.0, 1e6),
        "normalised loss above which a network is trivial");
  w.add("convexity_o1", &SweepConfig::convexity_o1, closed(0.0, 1.0),
        "O1 below which a network is convexity");
  w.add("double_sided_o2", &SweepConfig::double_sided_o2, closed(0.0, 1.0),
        "O2 above which a network is double-sided");
  w.add("pudding_o3", &SweepConfig::pudding_o3, closed(-1.0, 1.0),
        "O3 above which pudding is (-), else (+)");
  w.add("valley_kappa", &SweepConfig::valley_kappa, closed(0.0, 1.0),
        "concentration kappa_j above which a unit is a valley unit");
  w.add("valley_importance", &SweepConfig::valley_importance, closed(0.0, 1.0),
        "a valley unit also needs c_j above this fraction of max c");
}

void add_parallel_keys(Schema& s) {
  SectionFields<ParallelConfig> p(s, "parallel", &Deck::parallel,
                                  "MPI layout: rank groups, data-parallel inside a group.");
  p.add("mode", &ParallelConfig::mode,
        "one rank group per training seed, or per fixed beta (fixed_log10_betas)");
  p.add("seeds", &ParallelConfig::seeds, ints(1, kMaxCount), "training seeds (groups) in seeds mode");
  p.add("ranks_per_group", &ParallelConfig::ranks_per_group, ints(1, kMaxCount),
        "ranks sharing one group's batch_beta networks");
  p.add("fixed_log10_betas", &ParallelConfig::fixed_log10_betas,
        closed(-kMaxLog10Beta, kMaxLog10Beta), kMaxListLength,
        "log10 beta of each group in fixed_beta mode; unused in seeds mode");
}

void add_output_keys(Schema& s) {
  SectionFields<OutputConfig> o(s, "output", &Deck::output, "Results, logs and checkpoints.");
  o.add("dir", &OutputConfig::dir, "results directory");
  o.add("log_every", &OutputConfig::log_every, ints(1, kMaxSteps), "steps between log lines");
  o.add("checkpoint_every", &OutputConfig::checkpoint_every, ints(1, kMaxSteps),
        "steps between checkpoints");
  o.add("save_models", &OutputConfig::save_models, ints(1, kMaxCount),
        "models saved at log-spaced steps for the sweep");
  o.add("overwrite", &OutputConfig::overwrite, "allow writing into an existing results directory");
}
// The checks that involve several keys, each naming its keys and what is valid.
std::vector<CrossCheck> cross_key_checks() {
  const auto edges = [](int64_t n, int64_t ratio) { return n * ratio * (n + 1); };  // n*m + m
  return {
      {{"model.heads", "model.d"},
       "model.d must be a multiple of model.heads (head width d/H)",
       [](const Deck& d) {
         if (d.model.d % d.model.heads == 0) return std::string();
         return "model.d = " + std::to_string(d.model.d) + " is not a multiple of model.heads = " +
                std::to_string(d.model.heads);
       }},
      {{"train.log10_beta_max", "train.log10_beta_min"},
       "train.log10_beta_min must be below train.log10_beta_max",
       [](const Deck& d) {
         if (d.train.log10_beta_min < d.train.log10_beta_max) return std::string();
         return "log10_beta_max = " + shortest_double(d.train.log10_beta_max) +
                " is not above log10_beta_min = " + shortest_double(d.train.log10_beta_min);
       }},
      {{"parallel.fixed_log10_betas", "parallel.mode"},
       "parallel.mode = \"fixed_beta\" needs at least one entry in parallel.fixed_log10_betas",
       [](const Deck& d) {
         if (d.parallel.mode != ParallelMode::fixed_beta || !d.parallel.fixed_log10_betas.empty())
           return std::string();
         return std::string("is empty while parallel.mode = \"fixed_beta\"");
       }},
      {{"parallel.fixed_log10_betas", "parallel.mode", "train.log10_beta_min", "train.log10_beta_max"},
       "in fixed_beta mode every entry lies in [train.log10_beta_min, train.log10_beta_max], "
       "the range the beta code is normalised over",
       [](const Deck& d) {
         if (d.parallel.mode != ParallelMode::fixed_beta) return std::string();
         const auto& b = d.parallel.fixed_log10_betas;
         for (std::size_t i = 0; i < b.size(); ++i)
           if (b[i] < d.train.log10_beta_min || b[i] > d.train.log10_beta_max)
             return "entry [" + std::to_string(i) + "] = " + shortest_double(b[i]) + " lies outside [" +
                    shortest_double(d.train.log10_beta_min) + ", " +
                    shortest_double(d.train.log10_beta_max) + "]";
         return std::string();
       }},
      {{"parallel.ranks_per_group", "train.batch_beta"},
       "a group's train.batch_beta networks are divided among its ranks, so ranks_per_group <= batch_beta",
       [](const Deck& d) {
         if (d.parallel.ranks_per_group <= d.train.batch_beta) return std::string();
         return "ranks_per_group = " + std::to_string(d.parallel.ranks_per_group) +
                " exceeds train.batch_beta = " + std::to_string(d.train.batch_beta);
       }},
      {{"target.n", "target.hidden_ratio"},
       "the target network may have at most " + std::to_string(kMaxEdges) + " edges (n*m + m)",
       [edges](const Deck& d) {
         const int64_t e = edges(d.target.n, d.target.hidden_ratio);
         if (e <= kMaxEdges) return std::string();
         return "n = " + std::to_string(d.target.n) + " with hidden_ratio = " +
                std::to_string(d.target.hidden_ratio) + " gives " + std::to_string(e) + " edges";
       }},
      {{"sweep.sizes", "target.hidden_ratio"},
       "every generalisation network may have at most " + std::to_string(kMaxEdges) + " edges (n'*m' + m')",
       [edges](const Deck& d) {
         for (const int64_t n : d.sweep.sizes) {
           const int64_t e = edges(n, d.target.hidden_ratio);
           if (e > kMaxEdges)
             return "size " + std::to_string(n) + " with target.hidden_ratio = " +
                    std::to_string(d.target.hidden_ratio) + " gives " + std::to_string(e) + " edges";
         }
         return std::string();
       }},
      {{"train.sizes", "target.hidden_ratio"},
       "every training network may have at most " + std::to_string(kMaxEdges) + " edges (n*m + m)",
       [edges](const Deck& d) {
         for (const int64_t n : d.train.sizes) {
           const int64_t e = edges(n, d.target.hidden_ratio);
           if (e > kMaxEdges)
             return "size " + std::to_string(n) + " with target.hidden_ratio = " +
                    std::to_string(d.target.hidden_ratio) + " gives " + std::to_string(e) + " edges";
         }
         return std::string();
       }},
      {{"train.sizes"}, "each size at most once",
       [](const Deck& d) {
         if (const auto twice = first_repeat(d.train.sizes))
           return "size " + std::to_string(*twice) + " is listed twice";
         return std::string();
       }},
      {{"train.sizes_hold_steps", "train.sizes_widen_steps", "train.sizes", "target.n"},
       "a hold at target.n or a widening from it needs target.n in train.sizes",
       [](const Deck& d) {
         const auto& sizes = d.train.sizes;
         if ((d.train.sizes_hold_steps > 0 || d.train.sizes_widen_steps > 0) && !sizes.empty() &&
             std::find(sizes.begin(), sizes.end(), d.target.n) == sizes.end())
           return "target.n = " + std::to_string(d.target.n) + " is not in train.sizes";
         return std::string();
       }},
      {{"sweep.sizes"}, "each size at most once",
       [](const Deck& d) {
         if (const auto twice = first_repeat(d.sweep.sizes))
           return "size " + std::to_string(*twice) + " is listed twice";
         return std::string();
       }},
      {{"sweep.steps"}, "each step at most once",
       [](const Deck& d) {
         if (const auto twice = first_repeat(d.sweep.steps))
           return "step " + std::to_string(*twice) + " is listed twice";
         return std::string();
       }},
      {{"sweep.steps", "train.steps"},
       "every entry is at most train.steps: models exist only up to the last step",
       [](const Deck& d) {
         for (const int64_t step : d.sweep.steps)
           if (step > d.train.steps)
             return "step " + std::to_string(step) + " is beyond train.steps = " +
                    std::to_string(d.train.steps);
         return std::string();
       }},
  };
}

Schema build_schema() {
  Schema s;
  add_task_keys(s);
  add_target_keys(s);
  add_model_keys(s);
  add_train_keys(s);
  add_sweep_keys(s);
  add_parallel_keys(s);
  add_output_keys(s);
  s.checks = cross_key_checks();
  for (const CrossCheck& c : s.checks)
    for (const std::string& k : c.keys)
      if (!s.find_field(k)) throw std::logic_error("deck schema: cross check names unknown key " + k);
  return s;
}

const Schema& schema() {
  static const Schema s = build_schema();  // immutable after construction
  return s;
}

// ---------------------------------------------------------------------------
// Printing values.

std::string format_value(const Value& v) {
  struct Printer {
    std::string operator()(int64_t x) const { return std::to_string(x); }
    std::string operator()(uint64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return toml_double(x); }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(const std::string& x) const { return toml_string(x); }
    std::string operator()(const std::vector<int64_t>& x) const {
      std::vector<std::string> items;
      for (const int64_t e : x) items.push_back(std::to_string(e));
      return "[" + join(items, ", ") + "]";
    }
    std::string operator()(const std::vector<double>& x) const {
      std::vector<std::string> items;
      for (const double e : x) items.push_back(toml_double(e));
      return "[" + join(items, ", ") + "]";
    }
  };
  return std::visit(Printer{}, v);
}

// What a key accepts, as the second half of an error message and in to_toml comments.
std::string valid_text(const Field& f) {
  switch (f.kind) {
    case Kind::integer: return "an integer in " + int_range_text(f.int_range);
    case Kind::uinteger: return "an integer " + int_range_text(f.int_range);
    case Kind::floating: return "a number in " + float_range_text(f.float_range);
    case Kind::boolean: return "true or false";
    case Kind::string: return "a non-empty string without control characters";
    case Kind::enumeration: return "one of " + join(f.choices, ", ");
    case Kind::int_list:
      return "a list of integers, each in " + int_range_text(f.int_range) + ", at most " +
             std::to_string(f.max_length) + " entries";
    case Kind::float_list:
      return "a list of numbers, each in " + float_range_text(f.float_range) + ", at most " +
             std::to_string(f.max_length) + " entries";
  }
  return {};
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

// ---------------------------------------------------------------------------
// Building a deck from a document and overrides, collecting every problem.

// Where a value came from: a file (positions are meaningful) or one --set string.
struct Origin {
  std::string label;
  bool positional = false;

  std::string at(const toml::source_region& r) const {
    if (!positional) return label;
    return label + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
  }
};

class DeckBuilder {
 public:
  // `label` names the deck in messages; `source` is what Deck::source records.
  DeckBuilder(std::string label, const std::string& source) : label_(std::move(label)) {
    deck_.source = source;
    set_at_.resize(schema().fields.size());
  }

  void apply_document(const toml::table& root, const Origin& origin) {
    const Schema& s = schema();
    for (auto&& [k, node] : root) {
      const std::string section(k.str());
      if (!s.find_section(section)) {
        fail(origin, k.source(), section, unknown_section(section));
        continue;
      }
      const toml::table* table = node.as_table();
      if (!table) {
        fail(origin, node.source(), section,
             "expected a table, got " + type_name(node) + "; a section header [" + section +
                 "] followed by its keys");
        continue;
      }
      for (auto&& [kk, value] : *table) {
        const std::string key(kk.str());
        const auto index = s.find_field(section, key);
        if (!index) {
          fail(origin, kk.source(), section + "." + key, unknown_key(section, key));
          continue;
        }
        assign(*index, value, origin);
      }
    }
  }

  void apply_override(const std::string& text) {
    const Schema& s = schema();
    const Origin origin{"--set " + text, false};
    const toml::source_region nowhere{};
    const auto eq = text.find('=');
    const std::string name = trim(std::string_view(text).substr(0, eq));
    const auto dot = name.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == name.size()) {
      fail(origin, nowhere, "", "malformed override; expected section.key=value");
      return;
    }
    const std::string section = trim(std::string_view(name).substr(0, dot));
    const std::string key = trim(std::string_view(name).substr(dot + 1));
    if (!s.find_section(section)) {
      fail(origin, nowhere, section, unknown_section(section));
      return;
    }
    const auto index = s.find_field(section, key);
    if (!index) {
      fail(origin, nowhere, section + "." + key, unknown_key(section, key));
      return;
    }
    const std::string raw_text = trim(std::string_view(text).substr(eq + 1));
    std::optional<toml::table> snippet;
    try {
      snippet = toml::parse("v = " + raw_text, std::string_view("--set"));
    } catch (const toml::parse_error&) {
      // Not a TOML value: the raw text is meant as a string (--set model.readout=edge).
    }
    const toml::node* node = nullptr;
    if (snippet && snippet->size() == 1) node = snippet->get("v");
    // A string key takes the text as typed, so --set output.dir=2024 means "2024".
    const Kind kind = s.fields[*index].kind;
    const bool textual = kind == Kind::string || kind == Kind::enumeration;
    const toml::value<std::string> raw(raw_text);
    if (!node || (textual && !node->is_string())) node = &raw;
    assign(*index, *node, origin);
  }

  void check_cross_keys() {
    const Schema& s = schema();
    for (const CrossCheck& c : s.checks) {
      const std::string problem = c.problem(deck_);
      if (problem.empty()) continue;
      // Point at whichever involved key was set last: most likely the one just changed.
      std::string where = label_;
      int latest = 0;
      for (const std::string& k : c.keys) {
        const SetAt& at = set_at_[*s.find_field(k)];
        if (at.order > latest) {
          latest = at.order;
          where = at.where;
        }
      }
      issues_.push_back({2, 0, 0, where + ": " + c.keys.front() + ": " + problem + "; " + c.rule});
    }
  }

  bool ok() const { return issues_.empty(); }

  [[noreturn]] void throw_issues() {
    std::stable_sort(issues_.begin(), issues_.end(), [](const Issue& a, const Issue& b) {
      return std::tie(a.phase, a.line, a.column) < std::tie(b.phase, b.line, b.column);
    });
    constexpr std::size_t kShown = 20;
    std::string message;
    for (std::size_t i = 0; i < issues_.size() && i < kShown; ++i) {
      if (i) message += '\n';
      message += issues_[i].text;
    }
    if (issues_.size() > kShown)
      message += "\n" + label_ + ": " + std::to_string(issues_.size() - kShown) + " more problems not shown";
    throw DeckError(message);
  }

  Deck take() { return std::move(deck_); }

 private:
  struct Issue {
    int phase;  // 0 file, 1 overrides, 2 cross-key checks
    uint32_t line;
    uint32_t column;
    std::string text;
  };
  struct SetAt {
    std::string where;
    int order = 0;  // 0: still the default
  };

  void fail(const Origin& origin, const toml::source_region& r, const std::string& name,
            const std::string& problem) {
    std::string text = origin.at(r) + ": ";
    if (!name.empty()) text += name + ": ";
    text += problem;
    if (origin.positional)
      issues_.push_back({0, r.begin.line, r.begin.column, std::move(text)});
    else
      issues_.push_back({1, 0, 0, std::move(text)});
  }

  std::string unknown_section(const std::string& section) const {
    const Schema& s = schema();
    std::string hint;
    for (const Field& f : s.fields)
      if (f.key == section) {
        hint = " (keys belong inside a section: did you mean " + f.name() + "?)";
        break;
      }
    if (hint.empty())
      if (auto near = closest(section, s.section_names())) hint = " (did you mean '" + *near + "'?)";
    return "unknown section" + hint + "; valid sections: " + join(s.section_names(), ", ");
  }

  std::string unknown_key(const std::string& section, const std::string& key) const {
    const Schema& s = schema();
    const std::vector<std::string> keys = s.keys_of(section);
    std::string hint;
    if (auto near = closest(key, keys)) hint = " (did you mean '" + *near + "'?)";
    for (const Field& f : s.fields)
      if (hint.empty() && f.key == key) hint = " (it belongs in [" + f.section + "])";
    return "unknown key" + hint + "; valid keys in [" + section + "]: " + join(keys, ", ");
  }

  std::optional<int64_t> read_int(const Field& f, const toml::node& n, const Origin& o,
                                  const std::string& name) {
    if (!n.is_integer()) {
      fail(o, n.source(), name, "expected integer, got " + type_name(n) + "; " + valid_text(f));
      return std::nullopt;
    }
    const int64_t v = n.as_integer()->get();
    if (v < f.int_range.lo || v > f.int_range.hi) {
      const bool interval = f.int_range.hi != kInt64Max;
      fail(o, n.source(), name,
           std::string("must be ") + (interval ? "in " : "") + int_range_text(f.int_range) + ", got " +
               std::to_string(v));
      return std::nullopt;
    }
    return v;
  }

  // Integers are promoted: "lr = 1" means 1.0.
  std::optional<double> read_float(const Field& f, const toml::node& n, const Origin& o,
                                   const std::string& name) {
    double v = 0.0;
    if (n.is_integer()) {
      v = static_cast<double>(n.as_integer()->get());
    } else if (n.is_floating_point()) {
      v = n.as_floating_point()->get();
    } else {
      fail(o, n.source(), name, "expected float, got " + type_name(n) + "; " + valid_text(f));
      return std::nullopt;
    }
    if (!std::isfinite(v)) {
      fail(o, n.source(), name, "must be finite, got " + shortest_double(v) + "; " + valid_text(f));
      return std::nullopt;
    }
    if (!in_range(v, f.float_range)) {
      const bool interval = f.float_range.hi != kInf;
      fail(o, n.source(), name,
           std::string("must be ") + (interval ? "in " : "") + float_range_text(f.float_range) +
               ", got " + shortest_double(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> read_string(const Field& f, const toml::node& n, const Origin& o,
                                         const std::string& name) {
    if (!n.is_string()) {
      fail(o, n.source(), name, "expected string, got " + type_name(n) + "; " + valid_text(f));
      return std::nullopt;
    }
    const std::string& v = n.as_string()->get();
    // Raw --set text has not been through the TOML reader, which checks UTF-8 itself.
    if (!valid_utf8(v)) {
      fail(o, n.source(), name, "is not valid UTF-8; " + valid_text(f));
      return std::nullopt;
    }
    if (f.kind == Kind::enumeration) {
      if (std::find(f.choices.begin(), f.choices.end(), v) != f.choices.end()) return v;
      std::string hint;
      if (auto near = closest(v, f.choices)) hint = " (did you mean '" + *near + "'?)";
      fail(o, n.source(), name, "unknown value " + toml_string(v) + hint + "; " + valid_text(f));
      return std::nullopt;
    }
    const bool control = std::any_of(v.begin(), v.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (v.empty() || control) {
      fail(o, n.source(), name,
           std::string(v.empty() ? "must not be empty" : "must not contain control characters") + "; " +
               valid_text(f));
      return std::nullopt;
    }
    return v;
  }

  template <class T, class ReadOne>
  std::optional<std::vector<T>> read_list(const Field& f, const toml::node& n, const Origin& o,
                                          const std::string& name, ReadOne read_one) {
    const toml::array* array = n.as_array();
    if (!array) {
      fail(o, n.source(), name, "expected array, got " + type_name(n) + "; " + valid_text(f));
      return std::nullopt;
    }
    if (array->size() > f.max_length) {
      fail(o, n.source(), name,
           "has " + std::to_string(array->size()) + " entries; at most " + std::to_string(f.max_length));
      return std::nullopt;
    }
    std::vector<T> out;
    bool good = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const auto v = (this->*read_one)(f, (*array)[i], o, name + "[" + std::to_string(i) + "]");
      if (v)
        out.push_back(*v);
      else
        good = false;
    }
    if (!good) return std::nullopt;
    return out;
  }

  std::optional<Value> convert(const Field& f, const toml::node& n, const Origin& o) {
    const std::string name = f.name();
    auto wrap = [](auto&& v) -> std::optional<Value> {
      if (!v) return std::nullopt;
      return Value(std::in_place_type<std::decay_t<decltype(*v)>>, std::move(*v));
    };
    switch (f.kind) {
      case Kind::integer: return wrap(read_int(f, n, o, name));
      case Kind::uinteger: {
        const auto v = read_int(f, n, o, name);
        if (!v) return std::nullopt;
        return Value(std::in_place_type<uint64_t>, static_cast<uint64_t>(*v));
      }
      case Kind::floating: return wrap(read_float(f, n, o, name));
      case Kind::boolean:
        if (!n.is_boolean()) {
          fail(o, n.source(), name, "expected boolean, got " + type_name(n) + "; " + valid_text(f));
          return std::nullopt;
        }
        return Value(std::in_place_type<bool>, n.as_boolean()->get());
      case Kind::string:
      case Kind::enumeration: return wrap(read_string(f, n, o, name));
      case Kind::int_list: return wrap(read_list<int64_t>(f, n, o, name, &DeckBuilder::read_int));
      case Kind::float_list: return wrap(read_list<double>(f, n, o, name, &DeckBuilder::read_float));
    }
    return std::nullopt;
  }

  void assign(std::size_t index, const toml::node& n, const Origin& origin) {
    const Field& f = schema().fields[index];
    if (auto v = convert(f, n, origin)) {
      f.set(deck_, std::move(*v));
      set_at_[index] = {origin.at(n.source()), ++order_};
    }
  }

  std::string label_;  // names the deck in messages
  Deck deck_;
  std::vector<SetAt> set_at_;
  std::vector<Issue> issues_;
  int order_ = 0;
};

constexpr std::size_t kMaxDeckBytes = std::size_t{16} << 20;

std::string read_file(const std::string& path) {
  errno = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw DeckError(path + ": cannot open deck: " + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, got);
    // A bound keeps a mistaken path (a device, a data file) from eating memory or hanging.
    if (text.size() > kMaxDeckBytes)
      throw DeckError(path + ": cannot read deck: larger than " + std::to_string(kMaxDeckBytes >> 20) +
                      " MiB; not a deck file?");
    if (got < sizeof buffer) break;
  }
  if (std::ferror(file.get())) throw DeckError(path + ": cannot read deck: " + std::strerror(errno));
  return text;
}

std::string escape_cell(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string reference_valid_values(const Field& f) {
  switch (f.kind) {
    case Kind::integer:
    case Kind::uinteger: return int_range_text(f.int_range);
    case Kind::floating: return float_range_text(f.float_range) + ", finite";
    case Kind::boolean: return "`true`, `false`";
    case Kind::string: return "non-empty, no control characters";
    case Kind::enumeration: {
      std::vector<std::string> quoted;
      for (const std::string& c : f.choices) quoted.push_back("`" + c + "`");
      return join(quoted, ", ");
    }
    case Kind::int_list:
      return "each in " + int_range_text(f.int_range) + "; at most " + std::to_string(f.max_length) +
             " entries";
    case Kind::float_list:
      return "each in " + float_range_text(f.float_range) + ", finite; at most " +
             std::to_string(f.max_length) + " entries";
  }
  return {};
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::integer: return "integer";
    case Kind::uinteger: return "unsigned integer";
    case Kind::floating: return "float";
    case Kind::boolean: return "boolean";
    case Kind::string: return "string";
    case Kind::enumeration: return "enum";
    case Kind::int_list: return "integer list";
    case Kind::float_list: return "float list";
  }
  return "";
}

}  // namespace

Deck default_deck() { return Deck{}; }

Deck parse_deck(const std::string& toml_text, const std::string& source_name,
                const std::vector<std::string>& overrides) {
  const std::string label = source_name.empty() ? std::string("<deck>") : source_name;
  DeckBuilder builder(label, source_name);
  try {
    const toml::table root = toml::parse(toml_text, std::string_view(label));
    builder.apply_document(root, Origin{label, true});
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw DeckError(label + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                    ": TOML syntax error: " + std::string(e.description()));
  }
  for (const std::string& o : overrides) builder.apply_override(o);
  // Cross-key rules assume every value is individually valid.
  if (builder.ok()) builder.check_cross_keys();
  if (!builder.ok()) builder.throw_issues();
  return builder.take();
}

Deck load_deck(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_deck(read_file(path), path, overrides);
}

std::string to_toml(const Deck& deck) {
  const Schema& s = schema();
  constexpr std::size_t kCommentColumn = 40;
  std::string out =
      "# hnet input deck, fully resolved: every key with its value.\n"
      "# Comments give each key's meaning and valid values.\n";
  for (const Section& section : s.sections) {
    out += "\n# " + section.meaning + "\n[" + section.name + "]\n";
    for (const Field& f : s.fields) {
      if (f.section != section.name) continue;
      std::string line = f.key + " = " + format_value(f.get(deck));
      line.append(line.size() < kCommentColumn ? kCommentColumn - line.size() : 1, ' ');
      out += line + "# " + f.meaning + "; " + valid_text(f) + "\n";
    }
  }
  return out;
}

std::string deck_reference_markdown() {
  const Schema& s = schema();
  const Deck defaults = default_deck();
  std::string out =
      "Every key can be set in the deck or on the command line with `--set section.key=value` "
      "(the value is read as TOML; text that is not a TOML value is taken as a string). "
      "Integers are accepted where a float is expected, not the reverse; nan and inf are rejected.\n";
  for (const Section& section : s.sections) {
    out += "\n### [" + section.name + "]\n\n" + section.meaning + "\n\n";
    out += "| key | type | default | valid values | meaning |\n|---|---|---|---|---|\n";
    for (const Field& f : s.fields) {
      if (f.section != section.name) continue;
      out += "| `" + f.key + "` | " + kind_name(f.kind) + " | `" + escape_cell(format_value(f.get(defaults))) +
             "` | " + escape_cell(reference_valid_values(f)) + " | " + escape_cell(f.meaning) + " |\n";
    }
  }
  out += "\n### Cross-key checks\n\nRun after the file and all overrides are applied.\n\n";
  for (const CrossCheck& c : s.checks) {
    std::vector<std::string> keys;
    for (const std::string& k : c.keys) keys.push_back("`" + k + "`");
    out += "- " + join(keys, ", ") + ": " + c.rule + "\n";
  }
  return out;
}

std::optional<std::int64_t> toml_integer(const std::string& toml_text, const std::string& table,
                                         const std::string& key) {
  try {
    const toml::table parsed = toml::parse(toml_text);
    if (auto value = parsed[table][key].value<std::int64_t>()) return *value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace hnet
