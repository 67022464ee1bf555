"""Scratch: tiny Molmo-7B-D-layout checkpoint from the published hub files (patched vision dims)."""
import json, shutil, sys, math
from pathlib import Path
import torch
sys.path.insert(0, "/work/wt-13/tests"); sys.path.insert(0, "/work/wt-13/src")
from tiny_models import qwen2_tokenizer

SRC = Path("/tmp/molmo-ref/src7bd")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/molmo-ref/tiny7bd")
OUT.mkdir(parents=True, exist_ok=True)
SPECIALS = ["<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"]
tok = qwen2_tokenizer(SPECIALS)
tok.save_pretrained(OUT)
modeling = (SRC / "modeling_molmo.py").read_text()
vision = {"image_default_input_size=(336, 336)": "image_default_input_size=(112, 112)",
          "image_emb_dim=1024": "image_emb_dim=32", "image_num_heads=16": "image_num_heads=2",
          "image_num_key_value_heads=16": "image_num_key_value_heads=2", "image_num_layers=23": "image_num_layers=10",
          "image_head_dim=64": "image_head_dim=16", "image_mlp_dim=4096": "image_mlp_dim=64",
          "image_num_pos=577": "image_num_pos=65"}
block = modeling[modeling.index("class MolmoForCausalLM"):]
block_end = block.index("self.model = Molmo(")
head = block[:block_end]
for a, b in vision.items():
    assert a in head, a
    head = head.replace(a, b)
modeling = modeling.replace(block[:block_end], head)
(OUT / "modeling_molmo.py").write_text(modeling)
for f in ["config_molmo.py", "preprocessing_molmo.py", "image_preprocessing_molmo.py", "processor_config.json", "generation_config.json"]:
    shutil.copy(SRC / f, OUT / f)
pre = json.loads((SRC / "preprocessor_config.json").read_text())
pre.update(base_image_input_size=[112, 112], image_token_length_h=4, image_token_length_w=4, max_crops=4, overlap_margins=[2, 2])
(OUT / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))
cfg = json.loads((SRC / "config.json").read_text())
cfg.pop("quantization_config")
V = 512
assert len(tok) <= V, len(tok)
cfg.update(embedding_size=V, vocab_size=V, hidden_size=32, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
           num_hidden_layers=4, torch_dtype="float32", max_position_embeddings=4096)
(OUT / "config.json").write_text(json.dumps(cfg, indent=2))
print(OUT, len(tok))
# scratch patches: torchvision resize instead of tensorflow (the published code's own commented alternative);
# the processor's hard-coded image defaults set to the tiny sizes of preprocessor_config.json
import subprocess
subprocess.run([sys.executable, "/tmp/molmo-ref/work/patch_tf.py", str(OUT / "image_preprocessing_molmo.py")], check=True)
pp = (OUT / "preprocessing_molmo.py").read_text()
for a, b in {'"max_crops": 12': '"max_crops": 4', '"overlap_margins": [4, 4]': '"overlap_margins": [2, 2]',
             '"base_image_input_size": [336, 336]': '"base_image_input_size": [112, 112]',
             '"image_token_length_w": 12': '"image_token_length_w": 4', '"image_token_length_h": 12': '"image_token_length_h": 4'}.items():
    assert a in pp, a
    pp = pp.replace(a, b)
(OUT / "preprocessing_molmo.py").write_text(pp)
