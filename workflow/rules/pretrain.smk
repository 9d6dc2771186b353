# MLM pretraining of the k-mer BERT on the corpus: DNABERT span masking, length-
# grouped batches, checkpoint/resume, DDP via torchrun when given several GPUs
# (srun + torchrun across pretrain.nodes SLURM nodes).
# Logic in dnabert.lm.pretrain (python -m dnabert.lm.pretrain).
import json
from pathlib import Path


include: "functions/pretrain.smk"


rule pretrain_mlm:
    input:
        unpack(pretrain_inputs),
    output:
        model=pretrain_model_output(),
        metrics=pretrain_files()["metrics"],
        history=pretrain_files()["history"],
        plot=report(
            pretrain_files()["plot"],
            caption="../report/pretrain_loss.rst",
            category=REPORT_CATEGORIES["pretraining"],
        ),
    log:
        "logs/pretrain_mlm.log",
    benchmark:
        "benchmarks/pretrain_mlm.tsv"
    conda:
        "../../envs/pretrain.yaml"
    threads: PRETRAIN["threads"]
    resources:
        **pretrain_resources(),
    params:
        launcher=pretrain_launcher(),
        package=str(Path(workflow.basedir) / "workflow"),
        settings=json.dumps(pretrain_settings()),
        kmer=config["kmer"],
        dev=config.get("splits", {}).get("dev", []),
        device="cuda" if PRETRAIN["gpus"] else "cpu",
        checkpoints="results/pretrain/checkpoints",
        tensorboard="results/pretrain/tensorboard",
    shell:
        "PYTHONPATH={params.package:q}${{PYTHONPATH:+:$PYTHONPATH}} "
        "{params.launcher} dnabert.lm.pretrain "
        "--corpus {input.corpus:q} --kmer {params.kmer} --settings {params.settings:q} "
        "--dev-chromosomes {params.dev:q} --device {params.device} --threads {threads} "
        "--model {output.model:q} --metrics {output.metrics:q} --history {output.history:q} "
        "--plot {output.plot:q} --checkpoints {params.checkpoints:q} "
        "--tensorboard {params.tensorboard:q} --log {log:q}"


rule pretrain:
    input:
        **pretrain_files(),
