"""Every torch.optim optimizer by its class name, for ``optimizer=dict(type='AdamW', ...)``.

Listed by name so that registering them imports nothing; a test checks the list
against the optimizers of the installed torch.
"""

TORCH_OPTIMIZERS = ("ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS",
                    "Muon", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam")
