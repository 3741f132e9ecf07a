#!/bin/bash
# Submit the paper run as a chain of Slurm jobs (each starts when the one before succeeded):
#   setup -> train (accelerate, the GPUs of a node) -> notebooks 00-06 (reward models, analyses)
#   -> generate (job array of SP_PRM_SHARDS shards) -> merge -> notebooks 07-13 -> book
# Variables: PROFILE (paper), SP_PRM_ROOT (this checkout), SP_PRM_SHARDS (8), SP_PRM_GPUS_PER_NODE (8),
# SP_PRM_SBATCH_ARGS (e.g. "--partition=a800 --account=me"), SP_PRM_GRES (override every job's --gres,
# e.g. "none" on a CPU-only test cluster), SP_PRM_NO_SETUP=1 (skip the set-up job).
# Prints one line per job: "<step> <job id>". `make slurm-submit` runs it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SP_PRM_ROOT="${SP_PRM_ROOT:-$ROOT}"
export PROFILE="${PROFILE:-paper}"
export SP_PRM_SHARDS="${SP_PRM_SHARDS:-8}"
SHARDS="$SP_PRM_SHARDS"
GPUS="${SP_PRM_GPUS_PER_NODE:-8}"
S="$SP_PRM_ROOT/cluster/slurm"
LOGS="${SP_PRM_SLURM_LOGS:-$SP_PRM_ROOT/build/slurm}"
mkdir -p "$LOGS"
read -r -a extra <<<"${SP_PRM_SBATCH_ARGS:-}"
gres() { if [ -n "${SP_PRM_GRES:-}" ]; then echo "--gres=$SP_PRM_GRES"; else echo "--gres=gpu:$1"; fi; }
prev=""
submit() { # step name, then sbatch options and script
  local step="$1"; shift
  local dep=()
  [ -n "$prev" ] && dep=("--dependency=afterok:$prev")
  prev="$(sbatch --parsable --export=ALL --chdir="$SP_PRM_ROOT" --output="$LOGS/%x-%j.out" "${extra[@]}" "${dep[@]}" "$@")"
  prev="${prev%%;*}"
  echo "$step $prev"
}
[ -n "${SP_PRM_NO_SETUP:-}" ] || submit setup "$S/setup.sbatch"
submit train "$(gres "$GPUS")" --export="ALL,SP_PRM_GPUS=$GPUS" "$S/train.sbatch"
submit notebooks-a "$(gres 1)" --job-name=sp-prm-notebooks-a "$S/notebooks.sbatch" \
  00_setup_and_data 01_theorem1_toy 02_obs1_score_consistency 03_obs2_3_human_preference 04_obs4_reward_gap \
  05_training_sp_prm 06_score_consistency_after_training
submit generate "$(gres 1)" --array="0-$((SHARDS - 1))" --output="$LOGS/%x-%A_%a.out" "$S/generate.sbatch"
submit merge "$S/merge.sbatch"
submit notebooks-b "$(gres 1)" --job-name=sp-prm-notebooks-b "$S/notebooks.sbatch" \
  07_decoding_hh_rlhf 08_decoding_tldr 09_decoding_advbench 10_decoding_gsm8k 11_ablations 12_case_studies 13_prefix_probe
submit book "$S/book.sbatch"
