import json, sys
from pathlib import Path
import torch
from safetensors.torch import save_file
sys.path.insert(0, "/work/wt-13/tests")
from molmo_reference import molmo_weights
from transformers import AutoConfig, AutoModelForCausalLM
d = Path(sys.argv[1]); arch = sys.argv[2]
c = AutoConfig.from_pretrained(d, trust_remote_code=True)
m = AutoModelForCausalLM.from_config(c, trust_remote_code=True)
shapes = {k: list(v.shape) for k, v in m.state_dict().items()}
out = Path(f"/work/wt-13/tests/data/molmo_{arch}"); out.mkdir(parents=True, exist_ok=True)
(out / "weights.json").write_text(json.dumps(shapes, indent=0, sort_keys=True))
save_file(molmo_weights(shapes), d / "model.safetensors", metadata={"format": "pt"})
print(len(shapes), sum(torch.Size(s).numel() for s in shapes.values()))
