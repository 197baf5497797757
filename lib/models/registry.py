"""Name -> model builder. A model file registers `builder(cfg) -> nn.Module` with
`@register_model("name")`, the value of MODEL.NAME."""

from utils.registry import Registry

MODELS = Registry("model", "MODEL.NAME")
register_model = MODELS.register
model_names = MODELS.names
get_builder = MODELS.get
