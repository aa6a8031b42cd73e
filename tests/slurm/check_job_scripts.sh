#!/usr/bin/env bash
# Static checks of job_scripts/ (ctest hnet_job_scripts_syntax):
#   - every script parses (bash -n) and the six documented scripts exist;
#   - every script opens with a shebang and a header comment, and runs under set -euo pipefail;
#   - in .sbatch files every #SBATCH line comes before the first command: sbatch stops reading
#     directives there and silently ignores the rest.
# Usage: tests/slurm/check_job_scripts.sh JOB_SCRIPTS_DIR
set -euo pipefail
dir="${1:?usage: check_job_scripts.sh JOB_SCRIPTS_DIR}"
errors=0
problem() { printf 'job script check: %s\n' "$*" >&2; errors=$(( errors + 1 )); }

for name in cpu_openmp.sbatch cuda.sbatch hip.sbatch sweep_ensemble.sbatch auto_resume.sbatch mpirun_workstation.sh; do
  [ -f "$dir/$name" ] || problem "$name is missing"
done
count=0
for script in "$dir"/*; do
  [ -f "$script" ] || continue
  name=$(basename "$script")
  count=$(( count + 1 ))
  bash -n "$script" || problem "$name: bash -n failed"
  [ "$(head -n 1 "$script")" = '#!/usr/bin/env bash' ] || problem "$name: first line is not #!/usr/bin/env bash"
  sed -n 2p "$script" | grep -q '^# ' || problem "$name: no header comment after the shebang"
  grep -q '^set -euo pipefail$' "$script" || problem "$name: no 'set -euo pipefail'"
  case "$name" in
    *.sbatch)
      first_command=$(awk '!/^[[:space:]]*(#|$)/ {print NR; exit}' "$script")
      late=$(awk -v first="${first_command:-0}" 'NR > first && /^#SBATCH/ {print NR}' "$script" | tr '\n' ' ')
      [ -z "$late" ] || problem "$name: #SBATCH on line(s) $late after the first command (line $first_command): sbatch ignores them"
      grep -q '^#SBATCH --time=' "$script" || problem "$name: no default #SBATCH --time"
      ;;
  esac
done
[ "$count" -ge 6 ] || problem "only $count file(s) in $dir"
[ "$errors" = 0 ] || { echo "job script check: $errors problem(s)" >&2; exit 1; }
echo "job script check: $count scripts parse and follow the rules"
