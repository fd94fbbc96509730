#!/usr/bin/env bash
# The prepared device run (see the device tool's notes): masked-code Transformers trained side by side on one
# GPU from grids encoded here. Nothing can be installed or fetched on that machine, so everything travels:
#
#   echo /gpu/ >> .git/info/exclude; echo /.whl/ >> .git/info/exclude
#   PYTHONPATH=src python scripts/train_priors.py --data data/notes3 --cache runs/priors/encoded --valid-every 7 \
#     --skip-nb --skip-transformer --threads 2          # encode once, here (about 10 min on two threads)
#   python scripts/gpu/pack_grids.py pack runs/priors/encoded gpu/data                 # 16 MB in all
#   mkdir -p gpu/meta/notes3 && cp data/notes3/merge.json gpu/meta/notes3/ && for s in FluidR3_GM TimGM6mb \
#     OPL-3_FM_128M; do mkdir -p gpu/meta/nsynth-$s && cp data/nsynth-$s/render.json gpu/meta/nsynth-$s/; done
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl librosa==0.11.0 soundfile==0.14.0 \
#     soxr==1.1.0 audioread==3.1.0 cffi==2.1.1 pooch==1.9.0 platformdirs==4.14.7 decorator==5.3.1 pycparser
#
# then, through the device tool: run `bash scripts/gpu/train_priors.sh` with carry [".whl", "gpu"] (the
# tracked tree must stay under the tool's 64 MiB: move src/spectrolab/assets/tagger_default's weights aside
# for the call). The models and logs come back in $OUT. DRY=1 ACC=cpu MIN=0.3 OUT=/tmp/x runs it here.
set -u
[ -n "${DRY:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
[ -n "${DRY:-}" ] || nvidia-smi --query-gpu=name,power.draw,memory.used --format=csv
python3 scripts/gpu/pack_grids.py unpack gpu/data runs/pgpu/encoded || exit 1
# The data's provenance (the merge and the renders it records), where the config's data entry reads it.
mkdir -p data /work/data && cp -r gpu/meta/notes3 data/ && for d in gpu/meta/nsynth-*; do cp -r "$d" /work/data/; done
MIN=${MIN:-7}
NOTE="trained on one GPU beside two other runs (three processes sharing it): the GPU part of training_energy is the whole device's energy over this run's window, shared by the three"
train() {  # name d_model layers batch lr dropout
  python3 scripts/train_priors.py --data data/notes3 --cache runs/pgpu/encoded --valid-every 7 --skip-nb \
    --minutes "$MIN" --max-steps 1000000 --batch-size "$4" --lr "$5" --d-model "$2" --layers "$3" --dropout "$6" \
    --threads 4 --accelerator "${ACC:-gpu}" --precision bf16-mixed --val-every-steps 1000 \
    --checkpoints "runs/pgpu/$1/ckpt" --logs "runs/pgpu/$1/logs" --out "runs/pgpu/$1/out" --force --note "$NOTE" \
    > "runs/pgpu/$1.log" 2>&1
  echo "$1 exit $?" >> "runs/pgpu/$1.log"
}
train a 128 3 256 3e-3 0.0 &
train b 192 4 256 2e-3 0.0 &
train c 256 4 256 2e-3 0.1 &
sleep 60
[ -n "${DRY:-}" ] || nvidia-smi --query-gpu=power.draw,utilization.gpu,memory.used --format=csv
wait
for r in a b c; do
  tail -4 "runs/pgpu/$r.log"
  mkdir -p "$OUT/$r" && cp runs/pgpu/$r/out/prior_transformer/* "$OUT/$r/"
done
tar czf "$OUT/logs.tgz" runs/pgpu/*.log runs/pgpu/*/logs
ls -la "$OUT" "$OUT"/*
