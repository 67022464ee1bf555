"""Scratch: tiny MolmoE-1B-layout checkpoint: the seed copy of modeling_molmoe.py, the hub preprocessing of Molmo."""
import json, shutil, sys
from pathlib import Path
sys.path.insert(0, "/work/wt-13/tests"); sys.path.insert(0, "/work/wt-13/src")
from tiny_models import qwen2_tokenizer
SRC, SRC7 = Path("/tmp/molmo-ref/srcE"), Path("/tmp/molmo-ref/tiny7bd")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/molmo-ref/tinyE")
OUT.mkdir(parents=True, exist_ok=True)
tok = qwen2_tokenizer(["<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"])
tok.save_pretrained(OUT)
m = (SRC / "modeling_molmoe.py").read_text().replace("from ..aliases import PathOrStr", "PathOrStr = str").replace("from molmo.config import", "from .config_molmoe import")
(OUT / "modeling_molmoe.py").write_text(m)
c = (SRC / "config_molmoe.py").read_text()
old = "        h, w = (336, 336)\n        return h // 14, w // 14"
assert old in c
c = c.replace(old, "        return self.vision_backbone.image_num_patch")  # scratch: the tiny crop size, not a fixed 336/14
(OUT / "config_molmoe.py").write_text(c)
assert "        v_cfg = VisionBackboneConfig()\n" in m
m = m.replace("        v_cfg = VisionBackboneConfig()\n", "        v_cfg = config.vision_backbone\n")  # scratch: the configured tower
(OUT / "modeling_molmoe.py").write_text(m)
for f in ["preprocessing_molmo.py", "image_preprocessing_molmo.py", "preprocessor_config.json", "processor_config.json"]:
    shutil.copy(SRC7 / f, OUT / f)  # already patched to the tiny sizes (and torchvision resize)
cfg = json.loads((SRC / "config.json").read_text())
cfg.update(d_model=32, n_heads=4, n_layers=4, moe_num_experts=4, moe_top_k=2, mlp_ratio=2, vocab_size=408, embedding_size=512,
           init_device="cpu", max_sequence_length=4096, torch_dtype="float32", max_crops=4, overlap_margins=[2, 2])
cfg["vision_backbone"].update(image_default_input_size=[112, 112], image_emb_dim=32, image_num_heads=2,
                              image_num_key_value_heads=2, image_num_layers=10, image_head_dim=16, image_mlp_dim=64, image_num_pos=65)
(OUT / "config.json").write_text(json.dumps(cfg, indent=2))
