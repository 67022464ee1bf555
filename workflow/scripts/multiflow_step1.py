"""Rule multiflow_step1 (Snakemake ``script:``): the report goes to the job's log."""

import logging
import sys

from vlmprune.multiflow import CheckpointError, MultiflowConfig, run_step1

with open(snakemake.log[0], "w", encoding="utf-8") as log_file:  # noqa: F821 (snakemake is injected)
    sys.stdout = sys.stderr = log_file
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=log_file,
        force=True,
    )
    try:
        run_step1(
            snakemake.input[0],
            float(snakemake.params.target),
            snakemake.output.json,
            snakemake.output.png,
            MultiflowConfig.from_mapping(snakemake.params.multiflow),
            out=log_file,
        )
    except (CheckpointError, ValueError, OSError) as error:
        print(f"error: {error}", file=log_file)
        log_file.flush()
        sys.exit(1)
