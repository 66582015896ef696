"""Necks: backbone levels -> the feature pyramid the heads read, with MMDetection's names."""

from .channel_mapper import ChannelMapper
from .dilated_encoder import DilatedEncoder
from .fpn import FPN
from .pafpn import PAFPN

__all__ = ["FPN", "PAFPN", "ChannelMapper", "DilatedEncoder"]
