"""Scratch: run the published Molmo code on a tiny checkpoint and write the reference outputs as a test fixture."""
import json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
sys.path.insert(0, "/work/wt-13/tests")
from molmo_reference import SAMPLES, TRACKED_IDS, fixture_records, synthetic_images
from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor
from vlmprune.models.prompts import molmo_prompt
from vlmprune.models.molmo import pad_stack, park_unused_patches

d, arch = Path(sys.argv[1]), sys.argv[2]
NEW = 8
torch.manual_seed(0)
config = AutoConfig.from_pretrained(d, trust_remote_code=True)
model = AutoModelForCausalLM.from_config(config, trust_remote_code=True).eval()
missing = model.load_state_dict(load_file(d / "model.safetensors"), strict=True)
processor = AutoProcessor.from_pretrained(d, trust_remote_code=True)

def published(ids, images, masks, idx):
    return model(input_ids=ids, images=images, image_masks=masks, image_input_idx=idx, use_cache=False, return_dict=True)

samples = []
with torch.inference_mode():
    for n, record in enumerate(fixture_records()):
        prompt = molmo_prompt(record["question"], record["style"])
        p = processor.process(images=[record["image"]], text=prompt, message_format="none", always_start_with_space=False)
        ids, idx, masks = p["input_ids"].long(), p["image_input_idx"].long(), p["image_masks"]
        images = synthetic_images(tuple(p["images"].shape), seed=n)
        logits = published(ids[None], images[None], masks[None], idx[None]).logits[0]
        # greedy without cache: the whole sequence again at every step
        seq = ids[None]
        for _ in range(NEW):
            step = published(seq, images[None], masks[None], idx[None]).logits[0, -1]
            seq = torch.cat([seq, step.argmax()[None, None]], dim=1)
        tokens = seq[0, len(ids):]
        # the published KV cache (per-layer (k, v) tuples) gives the same tokens
        L = len(ids)
        attention = torch.ones(1, L + NEW, dtype=torch.bool)
        out = model(input_ids=ids[None], images=images[None], image_masks=masks[None], image_input_idx=idx[None],
                    use_cache=True, attention_mask=attention, position_ids=torch.arange(L)[None], return_dict=True)
        past, token, cached = out.past_key_values, out.logits[0, -1].argmax(), []
        for t in range(NEW):
            cached.append(int(token))
            out = model(input_ids=token[None, None], past_key_values=past, use_cache=True, attention_mask=attention,
                        position_ids=torch.tensor([[L + t]]), return_dict=True)
            past, token = out.past_key_values, out.logits[0, -1].argmax()
        assert cached == tokens.tolist(), (cached, tokens)
        # the processor's own pixels: greedy tokens and the last prompt position's logits
        real = p["images"][None]
        real_logits = published(ids[None], real, masks[None], idx[None]).logits[0, -1]
        seq = ids[None]
        for _ in range(NEW):
            step = published(seq, real, masks[None], idx[None]).logits[0, -1]
            seq = torch.cat([seq, step.argmax()[None, None]], dim=1)
        samples.append(dict(real_last_logits=real_logits.clone(), real_greedy=seq[0, len(ids):].clone(),prompt=prompt, input_ids=ids, image_input_idx=idx, image_masks=masks,
                            images_shape=list(p["images"].shape), pixel_sum=p["images"].double().sum(dim=(1, 2)),
                            pixel_probe=p["images"].flatten()[::97].clone(), images=images,
                            last_logits=logits[-1].clone(), tracked_logits=logits[:, TRACKED_IDS].clone(), greedy=tokens))
        print(n, prompt, len(ids), tuple(p["images"].shape), tokens.tolist(), processor.tokenizer.decode(tokens))
    # a padded batch, as generate_from_batch builds it: -1 on the right of every tensor
    ids = pad_stack([s["input_ids"] for s in samples]); idx = pad_stack([s["image_input_idx"] for s in samples])
    masks = pad_stack([s["image_masks"] for s in samples]); images = pad_stack([s["images"] for s in samples])
    raw = published(ids, images, masks, idx).logits
    # as the adapter feeds it: every patch without a token parked on a padding position
    ids, idx = park_unused_patches(ids, idx)
    logits = published(ids, images, masks, idx).logits
    last = (ids != -1).sum(-1) - 1
    batch_last = logits[torch.arange(len(last)), last]
    for s, row in zip(samples, batch_last):
        print("batch vs alone", (row - s["last_logits"]).abs().max().item())
    for s, row in zip(samples, raw[torch.arange(len(last)), last]):
        print("unparked batch vs alone", (row - s["last_logits"]).abs().max().item())
for s in samples:
    del s["images"]
unparked_last = raw[torch.arange(len(last)), last]
torch.save({"samples": samples, "batch_last_logits": batch_last.clone(), "unparked_batch_last_logits": unparked_last.clone(), "max_new_tokens": NEW,
            "tracked_ids": TRACKED_IDS, "transformers": __import__("transformers").__version__},
           f"/work/wt-13/tests/data/molmo_{arch}/reference.pt")
