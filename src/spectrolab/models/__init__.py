"""Model registry and the model-directory format (safetensors weights + JSON config)."""

from spectrolab.models.registry import (
    LoadedModel,
    ModelInfo,
    count_parameters,
    create_model,
    list_models,
    load_model_dir,
    model_info,
    register_model,
    save_model_dir,
    store_weights,
)

__all__ = [
    "LoadedModel",
    "ModelInfo",
    "count_parameters",
    "create_model",
    "list_models",
    "load_model_dir",
    "model_info",
    "register_model",
    "save_model_dir",
    "store_weights",
]
