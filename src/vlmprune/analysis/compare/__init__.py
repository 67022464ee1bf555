"""The comparison stage: train versus validation per dataset, and across datasets."""
