# Models by Hugging Face Hub id: `finetune.released`, `pretrain.pretrained` or
# `interpret.zeroshot.model` may name a Hub model (zhihan1996/DNA_bert_6) instead of
# a directory; fetch_model brings it through the Hub cache (HF_HOME, HF_HUB_OFFLINE)
# into resources/models/<org--name>/ with provenance.json (commit, SHA-256 of every
# file). Logic in dnabert.lm.hub; input functions in functions/models.smk.


include: "functions/models.smk"


# Downloads need the network, which compute nodes of a cluster may lack.
localrules:
    fetch_model,


rule fetch_model:
    output:
        directory(f"{MODELS_DIR}/{{model}}"),
    log:
        "logs/fetch_model/{model}.log",
    conda:
        "../../envs/finetune.yaml"
    params:
        reference=fetched_model_id,
    script:
        "../scripts/fetch_model.py"
