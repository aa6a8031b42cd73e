#pragma once
// The columns of a sweep file's records/ table (one row per generated network), defined here and
// nowhere else: `hnet sweep` writes them in this order and lists their names in the file
// (attribute records@fields), `hnet draw` reads them by these names, and scripts/report.py and
// tests/make_fake_sweep.py take the list from the file or from `hnet sweep --list-fields`.
#include <cstddef>
#include <string>

namespace hnet {

enum class RecordField : int {
  job, step, log10_beta, generation_seed, n, m, posterior_mean, loss, normalised_loss, kl_nats, kl_bits,
  o1, o2, o3, coverage, duplication, valley_units, algorithm_class, network_row, count
};
constexpr int record_field_count = static_cast<int>(RecordField::count);

struct RecordFieldInfo {
  const char* name;     // records/<name>
  bool integer;         // stored as int64, else float64
  const char* meaning;
};
const RecordFieldInfo& record_field(RecordField field);
inline const RecordFieldInfo& record_field(int index) { return record_field(static_cast<RecordField>(index)); }

// The names, one per line, in order: what the file's records@fields attribute holds.
std::string record_field_list();

}  // namespace hnet
