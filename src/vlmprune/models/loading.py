"""Choosing and loading the adapter for a checkpoint.

The adapter comes from ``model.adapter`` when the config names one, else from
``config.json``'s ``model_type``, else from its ``architectures``. Safety: the checkpoint's
own modelling code runs only for an adapter that runs it (Molmo v1's ``molmo``, and ``generic``
for a checkpoint that ships its own code) *and* with ``model.trust_remote_code: true`` (without
it, ``auto`` runs Molmo v1 natively: ``molmo_native``); a ``true`` that the adapter would ignore
is refused (:func:`check_model_options`, run by the workflow before any job). Weights load from
safetensors unless ``model.allow_pickle: true``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter, read_model_config, resolve_device, resolve_dtype
from vlmprune.models.chat_template import GenericAdapter
from vlmprune.models.gemma3 import Gemma3Adapter
from vlmprune.models.idefics3 import Idefics3Adapter
from vlmprune.models.llava import LlavaAdapter
from vlmprune.models.llava_onevision import LlavaOnevisionAdapter
from vlmprune.models.molmo.adapter import MolmoNativeAdapter
from vlmprune.models.molmo.remote_code import MolmoAdapter
from vlmprune.models.molmo2 import Molmo2Adapter
from vlmprune.models.qwen2_vl import Qwen2VLAdapter

ADAPTERS: dict[str, type[ModelAdapter]] = {
    cls.name: cls
    for cls in (
        LlavaAdapter,
        LlavaOnevisionAdapter,
        MolmoAdapter,
        Molmo2Adapter,
        Qwen2VLAdapter,
        Idefics3Adapter,
        Gemma3Adapter,
        GenericAdapter,
        MolmoNativeAdapter,
    )
}

#: The class the generic adapter loads, natively or by the name in ``config.json``'s ``auto_map``.
GENERIC_AUTO_CLASS = "AutoModelForImageTextToText"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


def resolve_model_path(path: str | Path, *, config_only: bool = False) -> Path:
    """A local directory for ``path``: itself, or the hub snapshot of a hub id (``org/name``).

    A hub id is fetched (or found in the local cache) with ``huggingface_hub``; offline and not
    cached, the message says how to get the files onto this machine.
    """
    local = Path(path)
    if local.exists() or not HUB_ID.match(str(path)):
        return local
    try:
        from huggingface_hub import snapshot_download

        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
        patterns = ["*.json"] if config_only else None
        return Path(snapshot_download(str(path), local_files_only=offline, allow_patterns=patterns))
    except Exception as error:  # offline, unknown repo, gated repo, no network: all mean "not here"
        raise ModelError(
            f"model.path {str(path)!r} is not a local directory, and as a Hugging Face hub "
            "id it could not be "
            f"fetched or found in the local cache ({type(error).__name__}). Download it on "
            "a machine with internet "
            f"(e.g. `hf download {path} --local-dir models/{str(path).split('/')[-1]}`), "
            "copy it here and set "
            "model.path to that directory"
        ) from None


def known_adapters() -> str:
    return "; ".join(
        f"{name} (model_type {', '.join(cls.model_types) or '-'})"
        for name, cls in sorted(ADAPTERS.items())
    )


def adapter_class(path: str | Path, name: str = "auto") -> type[ModelAdapter]:
    """The adapter named in the config, or the one that serves ``config.json``'s
    ``model_type``/``architectures``."""
    if name not in (None, "", "auto"):
        try:
            return ADAPTERS[name]
        except KeyError:
            raise ModelError(
                f"model.adapter {name!r} is unknown; known adapters: {known_adapters()}"
            ) from None
    config = read_model_config(resolve_model_path(path, config_only=True))
    model_type = config.get("model_type")
    for cls in ADAPTERS.values():
        if model_type in cls.model_types:
            return cls
    architectures = config.get("architectures") or []
    for cls in ADAPTERS.values():
        if any(arch in cls.architectures for arch in architectures):
            return cls
    raise ModelError(
        f"no adapter knows model_type {model_type!r} (architectures {architectures}) of "
        f"{str(path)!r}; "
        f"known adapters: {known_adapters()}. For another model that "
        "AutoModelForImageTextToText loads, set "
        "model.adapter: generic and name its block list by module path with model.block_path "
        "(e.g. model.block_path: model.language_model.layers)"
    )


def count_blocks(path: str | Path, *, adapter: str = "auto", component: str = "language") -> int:
    """The ablated component's block count, from ``config.json``; errors name the file and key."""
    local = resolve_model_path(path, config_only=True)
    config = read_model_config(local)
    try:
        return adapter_class(local, adapter).count_blocks(config, component)
    except ModelError as error:
        if str(error).startswith(("it ", "its ")):
            raise ModelError(
                f"{local / 'config.json'}: {error}, so the {component} blocks cannot be counted; "
                "correct it, or restore the checkpoint's config.json"
            ) from None
        raise


def check_model_options(
    path: str | Path,
    *,
    adapter: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> None:
    """Refuse, before any job, ``model.trust_remote_code`` or ``allow_pickle`` set in vain.

    ``trust_remote_code: true`` has an effect only where the checkpoint's own code runs: the
    ``molmo`` adapter (Molmo v1's published code) and the ``generic`` one. A ``generic``
    checkpoint whose ``model_type`` transformers does not know loads only through its own code,
    hence only with ``true``. The native Molmo v1 reads safetensors alone.
    """
    local = resolve_model_path(path, config_only=True)
    cls = adapter_class(local, adapter)
    if cls is MolmoAdapter and adapter in (None, "", "auto") and not trust_remote_code:
        cls = MolmoNativeAdapter
    if allow_pickle and cls is MolmoNativeAdapter:
        raise ModelError(
            "model.allow_pickle is true, but the native Molmo v1 (molmo_native) reads safetensors "
            "only and would ignore it; remove the key"
        )
    config = read_model_config(local)
    if cls is GenericAdapter:
        check_generic_code(local, config, trust_remote_code)
    elif trust_remote_code and not cls.remote_code:
        raise ModelError(
            f"model.trust_remote_code is true, but the {cls.name} adapter runs transformers' own "
            f"code for {str(path)!r} and would ignore it; remove the key (or set "
            "model.adapter: generic to load the checkpoint with its own code)"
        )
    else:
        check_remote_code(cls, local, trust_remote_code)


def check_generic_code(local: Path, config: dict[str, Any], trust_remote_code: bool) -> None:
    """The generic adapter loads ``AutoModelForImageTextToText``, natively or by its own code."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config.get("model_type")
    auto_map = config.get("auto_map") or {}
    if model_type in CONFIG_MAPPING_NAMES:
        if trust_remote_code and GENERIC_AUTO_CLASS not in auto_map:
            raise ModelError(
                f"model.trust_remote_code is true, but {str(local)!r} ships no code for "
                f"{GENERIC_AUTO_CLASS} (model_type {model_type!r} is transformers' own), so the "
                "generic adapter would ignore it; remove the key"
            )
        return
    if not trust_remote_code:
        how = (
            f"config.json names its own modelling code ({remote_code_files(local)}); read it, then "
            "set model.trust_remote_code: true to run it"
            if auto_map
            else "use a checkpoint of an architecture transformers implements"
        )
        raise ModelError(
            f"transformers does not know model_type {model_type!r} of {str(local)!r}, so the "
            f"generic adapter cannot load it: {how}"
        )
    if GENERIC_AUTO_CLASS not in auto_map:
        raise ModelError(
            f"the generic adapter loads {GENERIC_AUTO_CLASS}, which the auto_map of "
            f"{local / 'config.json'} does not name (it names {sorted(auto_map) or 'nothing'}); "
            "this checkpoint's own code cannot be loaded that way"
        )


def check_weights(path: Path, allow_pickle: bool) -> None:
    """Refuse a checkpoint whose weights exist only as pickle files, unless ``model.allow_pickle``
    is set."""
    if allow_pickle or not path.is_dir():
        return
    if any(path.glob("*.safetensors")) or any(path.glob("*.safetensors.index.json")):
        return
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ModelError(
            f"{str(path)!r} has weights only as pickle files ({', '.join(pickles[:3])}); "
            "loading a pickle can run "
            "arbitrary code. Convert them to safetensors, or set model.allow_pickle: true "
            "if you trust the files"
        )


def remote_code_files(path: Path) -> str:
    """The ``.py`` files ``config.json``'s ``auto_map`` names, for messages."""
    auto_map = read_model_config(path).get("auto_map") or {}
    files = sorted({str(v).split(".")[0] + ".py" for v in auto_map.values() if isinstance(v, str)})
    return ", ".join(files) or "auto_map"


def check_remote_code(cls: type[ModelAdapter], path: Path, trust_remote_code: bool) -> bool:
    """Whether to pass ``trust_remote_code=True``: where the adapter runs the checkpoint's code
    (always for ``molmo``, on request for ``generic``) and the config allows it."""
    if cls is GenericAdapter:
        return trust_remote_code
    if not cls.remote_code:
        return False
    if not trust_remote_code:
        raise ModelError(
            f"the {cls.name} adapter loads modelling code shipped with the checkpoint "
            f"({remote_code_files(path)} "
            f"in {str(path)!r}), which runs that code on this machine. Read it, then set "
            "model.trust_remote_code: true to allow it"
        )
    return True


# How transformers names a missing package: "pip install X" in most messages, "requires the X
# library"
# in those of requires_backends (e.g. "Qwen2VLImageProcessor requires the Torchvision library").
MISSING_PACKAGE = (
    re.compile(r"pip install ([\w.\-\[\]]+)"),
    re.compile(r"requires the ([\w\-]+) library"),
)


def missing_package_error(what: str, error: ImportError) -> ModelError:
    """A message that names the package ``error`` (raised inside transformers) says is missing, and
    how to install it."""
    text = str(error)
    package = getattr(error, "name", None)
    for pattern in MISSING_PACKAGE:
        match = pattern.search(text)
        if match:
            package = match.group(1).strip("`'\".").lower()
            break
    first_line = next(
        (line.strip() for line in text.splitlines() if line.strip()), type(error).__name__
    )
    if package:
        return ModelError(
            f"{what} needs the package {package!r}, which is not installed: pip install {package} "
            f"(transformers said: {first_line})"
        )
    return ModelError(
        f"{what} needs a package that is not installed (transformers said: {first_line})"
    )


def remote_code_error(path: str | Path, local: Path, error: Exception) -> ModelError:
    """The checkpoint's own modelling code failed inside ``from_pretrained``: say so, with the
    version and the way out.

    Molmo v1's published code (written for transformers 4.4x) never calls ``post_init``, so
    transformers 5 stops at ``all_tied_weights_keys``, then at ``tie_weights(recompute_mapping=…)``.
    """
    import transformers

    return ModelError(
        f"the modelling code shipped with {str(path)!r} ({remote_code_files(local)}) fails "
        "to load on transformers "
        f"{transformers.__version__}: {type(error).__name__}: {error}. That code was "
        "written for transformers 4.4x and "
        "vlmprune cannot run it on this version. Use a checkpoint whose architecture "
        "transformers implements natively "
        "(e.g. Molmo2), or run Molmo v1 in an environment with the transformers version "
        "its model card names"
    )


def load_adapter(
    path: str | Path,
    *,
    adapter: str = "auto",
    dtype: str = "auto",
    device: str = "auto",
    component: str = "language",
    block_path: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> ModelAdapter:
    """Load model and processor with ``from_pretrained`` and wrap them in their adapter."""
    local = resolve_model_path(path)
    cls = adapter_class(local, adapter)
    if cls is MolmoAdapter and adapter in (None, "", "auto") and not trust_remote_code:
        cls = (
            MolmoNativeAdapter  # the published code runs only where the config names it and opts in
        )
    if cls is GenericAdapter:
        check_generic_code(local, read_model_config(local), trust_remote_code)
    remote = check_remote_code(cls, local, trust_remote_code)
    check_weights(local, allow_pickle)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    if cls is MolmoNativeAdapter:
        model, processor = cls.load(local, torch_dtype, torch_device)
        return cls(model, processor, component=component, block_path=block_path)
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

    auto_model = AutoModelForCausalLM if cls.remote_code else AutoModelForImageTextToText
    kwargs: dict[str, Any] = {
        "dtype": torch_dtype,
        "use_safetensors": None if allow_pickle else True,
    }
    if remote:
        kwargs["trust_remote_code"] = True
    try:
        model = auto_model.from_pretrained(str(local), **kwargs).to(torch_device)
    except ImportError as error:
        raise missing_package_error(f"the model of {str(path)!r}", error) from error
    except (ValueError, KeyError) as error:
        raise ModelError(
            f"{auto_model.__name__} cannot load {str(path)!r} with the {cls.name} adapter: {error}"
        ) from error
    except (AttributeError, TypeError) as error:
        if not remote:
            raise
        raise remote_code_error(path, local, error) from error
    try:
        processor = AutoProcessor.from_pretrained(
            str(local), **({"trust_remote_code": True} if remote else {})
        )
    except ImportError as error:
        raise missing_package_error(f"the processor of {str(path)!r}", error) from error
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise ModelError(f"cannot load the processor of {str(path)!r}: {error}") from error
    return cls(model, processor, component=component, block_path=block_path)
