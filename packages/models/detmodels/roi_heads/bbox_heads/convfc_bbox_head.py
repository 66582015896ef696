"""ConvFCBBoxHead: shared conv/fc layers, then separate cls and reg conv/fc branches."""

from __future__ import annotations

from torch import Tensor, nn

from ...bricks import ConvModule
from .bbox_head import BBoxHead


class ConvFCBBoxHead(BBoxHead):
    """RoI features -> shared convs -> shared fcs -> {cls convs -> cls fcs -> fc_cls,
    reg convs -> reg fcs -> fc_reg}. Convs are 3x3 ``conv_out_channels``; fcs
    ``fc_out_channels`` with ReLU."""

    def __init__(self, num_shared_convs: int = 0, num_shared_fcs: int = 0,
                 num_cls_convs: int = 0, num_cls_fcs: int = 0, num_reg_convs: int = 0,
                 num_reg_fcs: int = 0, conv_out_channels: int = 256, fc_out_channels: int = 1024,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = None, **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        counts = dict(num_shared_convs=num_shared_convs, num_shared_fcs=num_shared_fcs,
                      num_cls_convs=num_cls_convs, num_cls_fcs=num_cls_fcs,
                      num_reg_convs=num_reg_convs, num_reg_fcs=num_reg_fcs)
        if sum(counts.values()) == 0:
            raise ValueError(f"ConvFCBBoxHead needs at least one layer, got {counts}")
        if (num_cls_convs > 0 or num_reg_convs > 0) and num_shared_fcs > 0:
            raise ValueError("cls/reg convs cannot follow shared fcs (num_shared_fcs must be 0)")
        if not self.with_cls and (num_cls_convs or num_cls_fcs):
            raise ValueError("with_cls=False but cls convs/fcs were asked for")
        if not self.with_reg and (num_reg_convs or num_reg_fcs):
            raise ValueError("with_reg=False but reg convs/fcs were asked for")
        for name, value in counts.items():
            setattr(self, name, value)
        self.conv_out_channels = conv_out_channels
        self.fc_out_channels = fc_out_channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg

        self.shared_convs, self.shared_fcs, self.shared_out_channels = self._add_conv_fc_branch(
            num_shared_convs, num_shared_fcs, self.in_channels, is_shared=True)
        self.cls_convs, self.cls_fcs, self.cls_last_dim = self._add_conv_fc_branch(
            num_cls_convs, num_cls_fcs, self.shared_out_channels)
        self.reg_convs, self.reg_fcs, self.reg_last_dim = self._add_conv_fc_branch(
            num_reg_convs, num_reg_fcs, self.shared_out_channels)
        if num_shared_fcs == 0 and not self.with_avg_pool:
            # a branch without fcs flattens its (C, h, w) map straight into the predictor
            if num_cls_fcs == 0:
                self.cls_last_dim *= self.roi_feat_area
            if num_reg_fcs == 0:
                self.reg_last_dim *= self.roi_feat_area
        self.relu = nn.ReLU(inplace=True)
        self._build_predictors(self.cls_last_dim, self.reg_last_dim)
        if init_cfg is None:
            self.init_cfg.append(dict(type="Xavier", distribution="uniform", override=[
                dict(name="shared_fcs"), dict(name="cls_fcs"), dict(name="reg_fcs")]))

    def _add_conv_fc_branch(self, num_convs: int, num_fcs: int, in_channels: int,
                            is_shared: bool = False) -> tuple[nn.ModuleList, nn.ModuleList, int]:
        """Convs and fcs of one branch, and the width of its output."""
        last_dim = in_channels
        convs = nn.ModuleList()
        for i in range(num_convs):
            convs.append(ConvModule(last_dim if i == 0 else self.conv_out_channels,
                                    self.conv_out_channels, 3, padding=1,
                                    conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg))
        if num_convs > 0:
            last_dim = self.conv_out_channels
        fcs = nn.ModuleList()
        if num_fcs > 0:
            if (is_shared or self.num_shared_fcs == 0) and not self.with_avg_pool:
                last_dim *= self.roi_feat_area
            for i in range(num_fcs):
                fcs.append(nn.Linear(last_dim if i == 0 else self.fc_out_channels,
                                     self.fc_out_channels))
            last_dim = self.fc_out_channels
        return convs, fcs, last_dim

    def _run_branch(self, x: Tensor, convs, fcs) -> Tensor:
        for conv in convs:
            x = conv(x)
        if x.dim() > 2:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
        for fc in fcs:
            x = self.relu(fc(x))
        return x

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(K, C, h, w) -> (K, num_classes + 1) scores, (K, 4 * num_classes) deltas."""
        for conv in self.shared_convs:
            x = conv(x)
        if self.num_shared_fcs > 0:
            x = self._run_branch(x, (), self.shared_fcs)
        cls_score = self.fc_cls(self._run_branch(x, self.cls_convs, self.cls_fcs)) \
            if self.with_cls else None
        bbox_pred = self.fc_reg(self._run_branch(x, self.reg_convs, self.reg_fcs)) \
            if self.with_reg else None
        return cls_score, bbox_pred


class Shared2FCBBoxHead(ConvFCBBoxHead):
    """Faster R-CNN's box head: two shared 1024-d fcs."""

    def __init__(self, fc_out_channels: int = 1024, **kwargs):
        super().__init__(num_shared_convs=0, num_shared_fcs=2, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels, **kwargs)


class Shared4Conv1FCBBoxHead(ConvFCBBoxHead):
    """Four shared 3x3 convs and one shared fc (the GN+WS / 4conv1fc configs)."""

    def __init__(self, fc_out_channels: int = 1024, **kwargs):
        super().__init__(num_shared_convs=4, num_shared_fcs=1, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels, **kwargs)
