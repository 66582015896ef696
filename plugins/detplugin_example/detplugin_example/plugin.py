"""The plugin module named by this distribution's entry point."""

from detcore import hookimpl


@hookimpl
def detcore_register_components(registries):
    registries.MODELS.register_lazy({"TinyConvNet": "detplugin_example.backbone"})
    registries.TRANSFORMS.register_lazy({"RandomGrayscale": "detplugin_example.transforms"})
