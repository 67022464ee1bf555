# vlmprune: which transformer blocks of a vision-language model can be removed, and at what cost.
# The DAG only; the rules call thin scripts in workflow/scripts, which call the vlmprune library.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/evaluate.smk"
include: "rules/importance.smk"
include: "rules/compare.smk"
include: "rules/multiflow.smk"
include: "rules/beam.smk"
include: "rules/export.smk"


rule all:
    input:
        get_all_targets(),
    default_target: True
