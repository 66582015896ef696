// The Python module detops._C. Importing it runs the static TORCH_LIBRARY registrations of
// every kernel file, which makes the ops available as torch.ops.detops.<name>.
#include <Python.h>

#ifdef DETOPS_WITH_CUDA
static constexpr long kWithCuda = 1;
#else
static constexpr long kWithCuda = 0;
#endif

static PyModuleDef detops_module = {
    PyModuleDef_HEAD_INIT, "_C",
    "detops compiled kernels; the ops are registered as torch.ops.detops.*", -1, nullptr};

PyMODINIT_FUNC PyInit__C(void) {
  PyObject* module = PyModule_Create(&detops_module);
  if (module != nullptr) PyModule_AddIntConstant(module, "WITH_CUDA", kWithCuda);
  return module;
}
