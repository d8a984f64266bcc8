//===- EmitCpp.cpp - The execution plan as C++ ----------------------------===//
//
// Every op of the plan describes its kernel call (KernelCallOpInterface,
// dialect/lib/KernelCalls.cpp); this file only turns such descriptions into
// code: workspace buffers for results, the arguments in the order of the
// family's signature, a Halide kernel call through the header Halide wrote
// for it (or bnnrt's C++ kernel, CppKernelSet.cpp), a profiler site, and a
// finite check of the call's results (StepInput::checkFinite).
//
//===----------------------------------------------------------------------===//

#include "codegen/EmitCpp.h"
#include "codegen/CppKernelSet.h"

#include "bnn/BnnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace bnn;

namespace {

/// A kernel call site of the plan, for the binary's profiler. Made by
/// siteOf, fields set by name: positional initialisers went wrong silently
/// when a field was added.
struct KernelSiteRecord {
  std::string function, op, location, kernel;
  std::string bf16Kernel; // called instead with backward = "bf16", or empty
  std::string int8Kernel; // called instead with backward = "int8", or empty
  std::string cudaKernel; // called instead on the GPU, or empty
  double opsPerItem = 0;
  bool binaryOps = false;
};

std::string locationText(Location loc);

/// The site of `op` in `function` calling `kernel`.
KernelSiteRecord siteOf(llvm::StringRef function, Operation *op, std::string kernel) {
  KernelSiteRecord site;
  site.function = function.str();
  site.op = op->getName().getStringRef().str();
  site.location = locationText(op->getLoc());
  site.kernel = std::move(kernel);
  return site;
}

/// "file:line:col" of an op; inside a block, the line in the block and the
/// call site.
std::string locationText(Location loc) {
  if (auto file = loc.dyn_cast<FileLineColLoc>())
    return llvm::formatv("{0}:{1}:{2}", file.getFilename(), file.getLine(), file.getColumn())
        .str();
  if (auto call = loc.dyn_cast<CallSiteLoc>())
    return locationText(call.getCallee()) + " via " + locationText(call.getCaller());
  if (auto named = loc.dyn_cast<NameLoc>())
    return locationText(named.getChildLoc());
  if (auto fused = loc.dyn_cast<FusedLoc>())
    return fused.getLocations().empty() ? "" : locationText(fused.getLocations()[0]);
  return "";
}

std::optional<bnnc::KernelRequest::Kind> familyKind(llvm::StringRef family) {
#define KERNEL_FAMILY(kind, stem)                                              \
  if (family == stem)                                                          \
    return bnnc::KernelRequest::Kind::kind;
#include "lowering/KernelFamilies.def"
  return std::nullopt;
}

/// A buffer bound to a kernel argument: a C++ pointer expression, its
/// extents (innermost first, "n" for the batch) and its Halide type.
struct BoundBuffer {
  std::string pointer;
  std::vector<std::string> extents;
  const char *type = "halideFloat32()";
};

/// Emits one function (train step or evaluation) as C++.
class FunctionEmitter {
public:
  /// With `gpu`, every kernel is the CUDA one and every buffer is seen
  /// through its device copy (the plan's GPU functions).
  FunctionEmitter(llvm::raw_ostream &out, const llvm::StringMap<size_t> &params,
                  std::vector<bnnc::KernelRequest> *halideKernels,
                  const bnnc::EmitOptions &options, std::vector<KernelSiteRecord> &sites,
                  bool gpu = false)
      : os(body), out(out), paramIndex(params), halideKernels(halideKernels),
        options(options), sites(sites), gpu(gpu) {}

  LogicalResult emit(func::FuncOp function, llvm::StringRef cppName,
                     llvm::StringRef siteFunction) {
    out << "void " << cppName
        << "(Params &p, Workspace &ws, const StepInput &in, StepOutput &out) {\n"
        << "  const int64_t n = in.batch;\n"
        << "  (void)n;\n";
    names[function.getArgument(0)] = "in.x";
    names[function.getArgument(1)] = "in.labels";
    if (gpu) {
      // The batch goes to the GPU once per step, in buffers of the device's.
      out << "  DeviceMirror &dev = deviceOf(ws);\n"
          << "  const float *x = dev.input(0, in.x, " << size(function.getArgument(0)) << ");\n"
          << "  const int32_t *labels = dev.input(1, in.labels, n);\n";
      names[function.getArgument(0)] = "x";
      names[function.getArgument(1)] = "labels";
    }
    // Only evaluation runs many steps on the same params; the GPU plan
    // recomputes them (its device copies are not checked for this yet).
    if (function->hasAttr("bnn.model") && !gpu)
      findParamOnlyOps(function.getBody().front());
    findLastUses(function.getBody().front());
    if (!function.getOps<AllReduceOp>().empty())
      out << "  Collectives &comm = collectives();\n";
    for (Operation &op : function.getBody().front()) {
      currentOp = &op;
      currentKernel = halideKernels ? "" : "bnnrt C++";
      waitForBucketsUsedBy(&op, siteFunction);
      if (failed(emitOp(&op)))
        return failure();
      flushOp(&op, siteFunction);
      // Open MPI moves a started bucket's data only inside MPI calls.
      if (!bucketsInFlight.empty() && !isa<func::ReturnOp>(op))
        out << "  comm.progress();\n";
      releaseAfter(&op);
    }
    out << "}\n\n";
    return success();
  }

private:
  //===--- shapes and buffers ---------------------------------------------===//

  static llvm::ArrayRef<int64_t> shape(Value value) {
    return value.getType().cast<ShapedType>().getShape();
  }
  static std::string extent(int64_t value) {
    return value == ShapedType::kDynamic ? "n" : std::to_string(value);
  }
  static std::string product(llvm::ArrayRef<int64_t> extents) {
    int64_t count = 1;
    for (int64_t e : extents)
      count *= e;
    return std::to_string(count);
  }
  /// C++ expression for the number of elements of `value`.
  static std::string size(Value value) {
    std::string text;
    for (int64_t e : shape(value))
      text += (text.empty() ? "" : " * ") + extent(e);
    return text.empty() ? "1" : text;
  }

  /// The extents a kernel sees `value` with in layout `view`.
  static std::vector<std::string> extentsOf(Value value, KernelView view) {
    llvm::ArrayRef<int64_t> s = shape(value);
    switch (view) {
    case KernelView::Rows:
      if (s.size() == 1)
        return {extent(s[0]), "1"};
      return {product(s.drop_front()), extent(s[0])};
    case KernelView::Channels:
      return {product(s.drop_front(2)), extent(s[1]), extent(s[0])};
    case KernelView::Image:
    case KernelView::ConvWeight:
      return {extent(s[3]), extent(s[2]), extent(s[1]), extent(s[0])};
    case KernelView::Matrix:
      return {extent(s[1]), extent(s[0])};
    case KernelView::PackedChannels:
      return {extent(s.back()), product(s.drop_front().drop_back()), extent(s[0])};
    case KernelView::Words: {
      std::vector<std::string> reversed;
      for (int64_t e : llvm::reverse(s))
        reversed.push_back(extent(e));
      return reversed;
    }
    case KernelView::Flat:
      return {size(value)};
    case KernelView::Batch:
      return {extent(s[0])};
    }
    return {};
  }

  static const char *halideTypeOf(Value value) {
    Type element = value.getType().cast<ShapedType>().getElementType();
    if (element.isInteger(64))
      return "halideUInt64()"; // packed signs
    if (element.isInteger(32))
      return "halideInt32()"; // labels
    return "halideFloat32()";
  }

  BoundBuffer bound(const std::string &pointer, Value value, KernelView view) {
    return {pointer, extentsOf(value, view), halideTypeOf(value)};
  }

  //===--- workspace slots ------------------------------------------------===//
  //
  // Every value an op defines gets a workspace slot (ws.get / ws.getWords
  // by id) that is given back after the value's last use, so a later value
  // reuses it: the step's memory is its peak of live values, not the sum of
  // all of them. Reshapes alias their operand's slot.

  /// Workspace slot ids of one kind (floats or words), reused once free.
  /// A slot keeps the largest size it was given, so a value goes to the
  /// free slot that fits it most tightly (else the largest free one, which
  /// grows least): taking any free slot left a 20 MB slot holding a small
  /// value while the next large value made a new one (the CNN's train step
  /// held 151 MB of slots for a live peak of 91 MB).
  struct Slots {
    std::vector<size_t> free;
    std::vector<int64_t> capacity; // elements at the estimated batch, by id
    size_t acquire(int64_t elements) {
      auto best = free.end(), largest = free.end();
      for (auto slot = free.begin(); slot != free.end(); ++slot) {
        int64_t size = capacity[*slot];
        if (size >= elements && (best == free.end() || size < capacity[*best]))
          best = slot;
        if (largest == free.end() || size > capacity[*largest])
          largest = slot;
      }
      auto chosen = best != free.end() ? best : largest;
      if (chosen == free.end()) {
        capacity.push_back(elements);
        return capacity.size() - 1;
      }
      size_t id = *chosen;
      free.erase(chosen);
      capacity[id] = std::max(capacity[id], elements);
      return id;
    }
    /// A new slot that is never given back: no other value writes it.
    size_t own(int64_t elements) {
      capacity.push_back(elements);
      return capacity.size() - 1;
    }
  };

  /// Elements of `value` at the batch size the slots are planned for (a
  /// view of it in any layout has as many).
  static int64_t estimatedElements(Value value) {
    int64_t count = 1;
    for (int64_t e : shape(value))
      count *= e == ShapedType::kDynamic ? kPlannedBatch : e;
    return count;
  }
  static constexpr int64_t kPlannedBatch = 100;
  struct Slot {
    bool words;
    size_t id;
  };

  /// The value whose slot `value` lives in (itself unless a reshape).
  Value storageOf(Value value) const {
    auto alias = aliasOf.find(value);
    return alias == aliasOf.end() ? value : alias->second;
  }

  /// For each op, the values (slots) whose last use it is.
  void findLastUses(Block &block) {
    llvm::DenseMap<Value, Operation *> lastUser;
    for (Operation &op : block) {
      if (isa<FlattenOp, ReshapeOp>(op))
        aliasOf[op.getResult(0)] = storageOf(op.getOperand(0));
      for (Value operand : op.getOperands())
        lastUser[storageOf(operand)] = &op;
      for (Value result : op.getResults())
        if (result.use_empty())
          lastUser[storageOf(result)] = &op;
    }
    // In program order (not the map's), so that the plan's text is the same
    // for the same IR.
    for (Operation &op : block) {
      llvm::SmallVector<Value> touched(op.getOperands());
      llvm::append_range(touched, op.getResults());
      for (Value value : touched) {
        Value storage = storageOf(value);
        if (lastUser.lookup(storage) == &op && !llvm::is_contained(dyingAfter[&op], storage))
          dyingAfter[&op].push_back(storage);
      }
    }
  }

  //===--- values of the params alone -------------------------------------===//
  //
  // At evaluation, ops that read only params (the packing of binary weights)
  // give the same result for every batch of an `evaluate`: their results get
  // slots of their own that no other value of the function takes, and their
  // calls run only when StepInput::paramsUnchanged is false (the first batch).

  /// Marks the ops whose operands all come from params alone.
  void findParamOnlyOps(Block &block) {
    llvm::DenseSet<Value> fromParams;
    for (Operation &op : block) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        fromParams.insert(param.getValue());
        continue;
      }
      bool onlyParams = op.getNumOperands() > 0 && op.getNumResults() > 0 &&
                        llvm::all_of(op.getOperands(), [&](Value v) { return fromParams.count(v); }) &&
                        llvm::all_of(op.getResults(), [](Value v) {
                          return v.getType().cast<ShapedType>().hasStaticShape();
                        });
      if (!onlyParams)
        continue;
      paramOnlyOps.insert(&op);
      for (Value result : op.getResults())
        fromParams.insert(result);
    }
  }
  bool isParamOnly(Operation *op) const { return paramOnlyOps.count(op); }

  /// Gives back the slots of the values `op` used last, and its scratch.
  void releaseAfter(Operation *op) {
    auto release = [&](Slot slot) { (slot.words ? wordSlots : floatSlots).free.push_back(slot.id); };
    for (Value value : dyingAfter.lookup(op)) {
      if (isParamOnly(value.getDefiningOp()))
        continue; // kept for the next batch
      auto slot = slotOf.find(value);
      if (slot != slotOf.end()) {
        release(slot->second);
        slotOf.erase(slot);
      }
    }
    for (Slot slot : opScratch)
      release(slot);
    opScratch.clear();
  }

  /// A workspace buffer holding `value` (packed words for Words).
  std::string define(Value value, KernelView view) {
    bool words = view == KernelView::Words || view == KernelView::PackedChannels;
    Slots &slots = words ? wordSlots : floatSlots;
    size_t id = isParamOnly(value.getDefiningOp()) ? slots.own(estimatedElements(value))
                                                   : slots.acquire(estimatedElements(value));
    slotOf[value] = {words, id};
    std::string name = (words ? "w" : "v") + std::to_string(nextName++);
    declarations << (words ? "  uint64_t *" : "  float *") << name
                 << (words ? " = ws.getWords(" : " = ws.get(") << id << ", " << size(value)
                 << ");\n";
    return names[value] = name;
  }
  /// Scratch floats with the extents of `value` in `view`, for one op.
  std::string scratch(Value value, KernelView view) {
    std::string count;
    for (const std::string &e : extentsOf(value, view))
      count += (count.empty() ? "" : " * ") + e;
    size_t id = floatSlots.acquire(estimatedElements(value));
    opScratch.push_back({false, id});
    std::string name = "s" + std::to_string(nextName++);
    declarations << "  float *" << name << " = ws.get(" << id << ", " << count << ");\n";
    return name;
  }
  std::string use(Value value) { return names.lookup(value); }

  //===--- ops ------------------------------------------------------------===//

  LogicalResult emitOp(Operation *op) {
    if (auto param = dyn_cast<ParamOp>(op)) {
      names[param.getValue()] =
          "p.value(" + std::to_string(paramIndex.lookup(param.getName())) + ")";
      return success();
    }
    if (isa<FlattenOp, ReshapeOp>(op)) {
      // Row-major reshapes keep the elements where they are.
      names[op->getResult(0)] = use(op->getOperand(0));
      return success();
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      Value logits = ret.getNumOperands() == 2 &&
                             ret.getOperand(0).getType().cast<ShapedType>().getRank() == 0
                         ? ret.getOperand(1)
                         : ret.getOperand(0);
      if (gpu)
        os << "  out.logits = dev.hostRead(" << use(logits) << ", " << size(logits) << ");\n";
      else
        os << "  out.logits = " << use(logits) << ";\n";
      return success();
    }
    if (auto allReduce = dyn_cast<AllReduceOp>(op))
      return startBucket(allReduce);
    auto kernelOp = dyn_cast<KernelCallOpInterface>(op);
    if (!kernelOp)
      return op->emitOpError() << "has no kernel in the C++ plan";
    if (failed(checkWindow(op)))
      return failure();
    KernelCall call;
    if (failed(kernelOp.describeKernelCall(call)))
      return failure();
    return emitKernelCall(op, call);
  }

  //===--- gradient buckets (bnn.allreduce) -------------------------------===//
  //
  // An all-reduce is a call of the runtime's collectives, not a kernel: its
  // gradients are copied into the bucket's contiguous buffer and the
  // collective is started where the op stands (right after the last of its
  // gradients), then waited for just before the first op that reads one
  // of its means, which are slices of that buffer. Start and wait are
  // profiler sites of their own: the wait's time is the communication the
  // backward pass did not hide.

  LogicalResult startBucket(AllReduceOp allReduce) {
    if (gpu)
      return allReduce.emitOpError()
             << "is not supported in GPU plans: data-parallel runs train on the host "
                "(drop --target=host-cuda or --mpi)";
    if (allReduce.getSyncBatchnorm())
      return reduceBatchNormSums(allReduce);
    size_t id = bucketsInFlight.size() + bucketsDone;
    std::string buffer = "bucket" + std::to_string(id);
    int64_t offset = 0;
    for (auto [gradient, mean] : llvm::zip(allReduce.getGradients(), allReduce.getMeans())) {
      int64_t count = gradient.getType().cast<ShapedType>().getNumElements();
      os << "  kernels::copy(" << use(gradient) << ", " << buffer << " + " << offset << ", "
         << count << ");\n";
      names[mean] = buffer + " + " + std::to_string(offset);
      offset += count;
    }
    declarations << "  float *" << buffer << " = comm.bucket(" << id << ", " << offset << ");\n";
    os << "  comm.startBucket(" << id << ");\n";
    bucketsInFlight[allReduce] = id;
    currentKernel = llvm::formatv("MPI_Iallreduce bucket {0} ({1} bytes): copy, start", id,
                                  offset * int64_t(sizeof(float)));
    return success();
  }

  /// A synchronised batchnorm's sums (bnn-sync-batchnorm): copied into a
  /// buffer of their own and, when the run asks for it, reduced there at
  /// once; the next kernel needs them.
  LogicalResult reduceBatchNormSums(AllReduceOp allReduce) {
    if (allReduce.getGradients().size() != 1)
      return allReduce.emitOpError() << "with sync_batchnorm reduces one tensor of sums";
    size_t id = batchNormSumsDone++;
    std::string buffer = "batchnorm_sums" + std::to_string(id);
    Value sums = allReduce.getGradients()[0];
    int64_t count = sums.getType().cast<ShapedType>().getNumElements();
    declarations << "  float *" << buffer << " = comm.batchNormSums(" << id << ", " << count
                 << ");\n";
    os << "  kernels::copy(" << use(sums) << ", " << buffer << ", " << count << ");\n"
       << "  if (in.syncBatchnorm)\n    comm.reduceBatchNormSums(" << buffer << ", " << count
       << ", " << (allReduce.getSum() ? "false" : "true") << ");\n";
    names[allReduce.getMeans()[0]] = buffer;
    currentKernel = allReduce.getSum() ? "MPI_Iallreduce: batchnorm sums (sync_batchnorm)"
                                       : "MPI_Iallreduce: batchnorm gradient sums (sync_batchnorm)";
    return success();
  }

  /// The waits for the buckets whose means `op` reads, each a site.
  void waitForBucketsUsedBy(Operation *op, llvm::StringRef siteFunction) {
    for (Value operand : op->getOperands()) {
      auto allReduce = operand.getDefiningOp<AllReduceOp>();
      auto pending = allReduce ? bucketsInFlight.find(allReduce) : bucketsInFlight.end();
      if (pending == bucketsInFlight.end())
        continue;
      size_t id = pending->second;
      bucketsInFlight.erase(pending);
      ++bucketsDone;
      sites.push_back(siteOf(siteFunction, allReduce,
                             llvm::formatv("MPI_Iallreduce bucket {0}: wait", id).str()));
      out << "  { bnnrt::KernelTimer timer(" << sites.size() - 1 << ", n);\n"
          << "    comm.waitBucket(" << id << ");\n  }\n";
    }
  }

  /// Windows the kernels cannot compute: the plan and the kernels take one
  /// stride and one padding for both axes (and the C++ pooling kernels a
  /// square window). Such IR (written or edited by hand) is an error at
  /// the op, never a binary that silently uses the first value.
  LogicalResult checkWindow(Operation *op) {
    for (const char *name : {"stride", "pad", "kernel"}) {
      auto values = op->getAttrOfType<DenseI64ArrayAttr>(name);
      if (!values || values.size() != 2 || values[0] == values[1])
        continue;
      if (llvm::StringRef(name) == "kernel" && halideKernels)
        continue;
      return op->emitOpError() << "has " << name << " [" << values[0] << ", " << values[1]
                               << "]: the back end supports only the same " << name
                               << " on both axes"
                               << (llvm::StringRef(name) == "kernel" ? " with --kernels=cpp" : "");
    }
    return success();
  }

  /// The buffers of a call, by argument name.
  struct Bindings {
    std::vector<std::pair<std::string, BoundBuffer>> buffers;
    std::vector<std::pair<std::string, std::string>> scalars;
    std::vector<std::pair<std::string, Value>> stateCopies; // scratch -> param
    std::string stepLoss;
    const BoundBuffer *find(llvm::StringRef arg) const {
      for (const auto &[name, buffer] : buffers)
        if (name == arg)
          return &buffer;
      return nullptr;
    }
  };

  Bindings bind(Operation *op, const KernelCall &call) {
    Bindings b;
    for (const KernelOperand &in : call.inputs)
      b.buffers.push_back({in.arg.str(), bound(use(in.value), in.value, in.view)});
    for (const KernelOperand &result : call.outputs) {
      bool isResult = result.value.getDefiningOp() == op;
      std::string pointer = isResult ? define(result.value, result.view) : use(result.value);
      b.buffers.push_back({result.arg.str(), bound(pointer, result.value, result.view)});
    }
    for (const KernelOperand &buffer : call.scratch) {
      BoundBuffer scratchBuffer{scratch(buffer.value, buffer.view),
                                extentsOf(buffer.value, buffer.view)};
      if (buffer.arg == call.stepLoss)
        b.stepLoss = scratchBuffer.pointer;
      b.buffers.push_back({buffer.arg.str(), scratchBuffer});
    }
    if (halideKernels)
      // Halide writes the new running statistics apart, then they replace
      // the params' (the C++ kernels update them in place).
      for (const KernelOperand &state : call.stateUpdates) {
        std::string pointer = scratch(state.value, state.view);
        b.buffers.push_back({state.arg.str(), bound(pointer, state.value, state.view)});
        b.stateCopies.push_back({pointer, state.value});
      }
    if (call.adamMoments) {
      std::string index = std::to_string(paramIndex.lookup(
          call.adamMoments.getDefiningOp<ParamOp>().getName()));
      for (auto [arg, moments] : {std::pair{"m", "firstMoments"}, {"new_m", "firstMoments"},
                                  {"v", "secondMoments"}, {"new_v", "secondMoments"}})
        b.buffers.push_back(
            {arg, {"p." + std::string(moments) + "[" + index + "].data()",
                   extentsOf(call.adamMoments, KernelView::Flat)}});
      b.scalars.push_back({"param", index});
    }
    for (const auto &[arg, value] : call.scalars)
      b.scalars.push_back({arg.str(), arg == "step" ? "int32_t(in.step)" : "in.lr"});
    return b;
  }

  LogicalResult emitKernelCall(Operation *op, const KernelCall &call) {
    std::optional<bnnc::KernelRequest::Kind> kind = familyKind(call.family);
    if (!kind)
      return op->emitOpError() << "names an unknown kernel family '" << call.family << "'";
    bnnc::KernelRequest request{*kind, call.length, call.units, ""};
    request.binary = call.binary;
    request.scaled = call.scaled;
    request.bias = call.bias;
    request.packed = call.packed;
    request.fusedSign = call.fusedSign;
    request.givenSums = call.givenSums;
    request.pool = call.pool;
    request.winners = call.winners;
    request.batchSums = call.batchSums;
    request.epsilon = call.epsilon;
    request.momentum = call.momentum;
    const KernelCall::Window &w = call.window;
    request.conv = {w.channels, w.height, w.width, w.filters,
                    w.kernelH,  w.kernelW, w.stride, w.pad};
    currentOpsPerItem = call.opsPerItem;
    currentBinaryOps = call.binaryOps;
    Bindings b = bind(op, call);
    noteResults(call);
    if (!halideKernels)
      return emitCppCall(op, request, call, b);
    if (failed(callHalide(op, request, b)))
      return failure();
    for (const auto &[pointer, param] : b.stateCopies)
      os << (gpu ? "  dev.copy(" : "  kernels::copy(") << pointer << ", " << use(param) << ", "
         << size(param) << ");\n";
    if (!b.stepLoss.empty() && gpu)
      os << "  out.loss = kernels::mean(dev.hostRead(" << b.stepLoss << ", n), n);\n";
    else if (!b.stepLoss.empty())
      os << "  out.loss = kernels::mean(" << b.stepLoss << ", n);\n";
    return success();
  }

  /// Remembers the float results of `call` for its finite check: its
  /// outputs (not packed sign words, which cannot hold a NaN), the params
  /// whose running statistics it updates (after the copy, in both kinds of
  /// plan), Adam's moments, and the step's loss.
  void noteResults(const KernelCall &call) {
    for (const KernelOperand &result : call.outputs)
      if (result.value.getType().cast<ShapedType>().getElementType().isF32())
        currentResults.push_back({use(result.value), size(result.value)});
    for (const KernelOperand &state : call.stateUpdates)
      currentResults.push_back({use(state.value), size(state.value)});
    if (call.adamMoments) {
      std::string index = std::to_string(paramIndex.lookup(
          call.adamMoments.getDefiningOp<ParamOp>().getName()));
      for (const char *moments : {"firstMoments", "secondMoments"})
        currentResults.push_back({"p." + std::string(moments) + "[" + index + "].data()",
                                  size(call.adamMoments)});
    }
    currentLoss = !call.stepLoss.empty();
  }

  /// A call of the Halide kernel `request`, its arguments put in the order
  /// of the family's signature. A name the signature lacks, or an argument
  /// left unbound, is an internal error at the op.
  LogicalResult callHalide(Operation *op, bnnc::KernelRequest request, const Bindings &b) {
    bnnc::KernelSignature signature = bnnc::signatureOf(request);
    std::vector<std::string> arguments;
    std::vector<const BoundBuffer *> buffers;
    for (const bnnc::KernelArg &arg : signature) {
      if (arg.role == bnnc::ArgRole::Scalar) {
        auto scalar = llvm::find_if(b.scalars, [&](const auto &s) { return s.first == arg.name; });
        if (scalar == b.scalars.end())
          return op->emitOpError() << "binds no value to scalar '" << arg.name << "' of kernel family "
                                   << bnnc::familyName(request.kind);
        arguments.push_back(scalar->second);
        buffers.push_back(nullptr);
        request.argExtents.push_back({});
        continue;
      }
      const BoundBuffer *buffer = b.find(arg.name);
      if (!buffer)
        return op->emitOpError() << "binds no value to argument '" << arg.name
                                 << "' of kernel family " << bnnc::familyName(request.kind);
      buffers.push_back(buffer);
      arguments.push_back("");
      request.argExtents.push_back(numericExtents(buffer->extents));
    }
    for (const auto &[name, buffer] : b.buffers)
      if (llvm::none_of(signature, [&](const bnnc::KernelArg &a) { return a.name == name; }))
        return op->emitOpError() << "binds '" << name << "', which kernel family "
                                 << bnnc::familyName(request.kind) << " does not take";
    injectSwap(request, signature, buffers);
    request.cuda = gpu;
    request.callers.push_back(
        (op->getName().getStringRef() + " at " + locationText(op->getLoc())).str());
    std::string kernel = bnnc::requestKernel(*halideKernels, request);
    currentKernel = kernel;
    // A kernel with a bf16 variant is chosen at run time (StepInput::
    // bf16Backward, from the run configuration): one binary serves both.
    std::string callee = kernel, calleeName = "\"" + kernel + "\"";
    if (options.bf16Kernels && !gpu && bnnc::hasBf16Variant(request)) {
      bnnc::KernelRequest bf16 = request;
      bf16.bf16 = true;
      currentBf16Kernel = bnnc::requestKernel(*halideKernels, bf16);
      callee = "(in.bf16Backward ? " + currentBf16Kernel + " : " + kernel + ")";
      calleeName = "(in.bf16Backward ? \"" + currentBf16Kernel + "\" : " + calleeName + ")";
    }
    // ... and one with an int8 variant too (StepInput::int8Backward; the
    // other kernels of such a run take their bf16 variant).
    if (options.bf16Kernels && !gpu && bnnc::hasInt8Variant(request)) {
      bnnc::KernelRequest int8 = request;
      int8.int8 = true;
      currentInt8Kernel = bnnc::requestKernel(*halideKernels, int8);
      callee = "(in.int8Backward ? " + currentInt8Kernel + " : " + callee + ")";
      calleeName = "(in.int8Backward ? \"" + currentInt8Kernel + "\" : " + calleeName + ")";
    }
    os << "  {\n";
    std::string args;
    for (size_t i = 0; i < buffers.size(); ++i) {
      args += i ? ", " : "";
      if (!buffers[i]) {
        args += arguments[i];
        continue;
      }
      os << (gpu ? "    DeviceView b" : "    HalideBufferND b") << i << "("
         << (gpu ? "dev, " : "") << buffers[i]->pointer << ", " << buffers[i]->type << ", {";
      llvm::interleaveComma(buffers[i]->extents, os);
      os << "});\n";
      args += "b" + std::to_string(i) + ".raw()";
    }
    os << (gpu ? "    dev.checkKernel(" : "    checkHalideCall(") << callee << "(" << args << "), "
       << calleeName << ");\n";
    if (gpu)
      os << "    dev.afterKernel();\n";
    os << "  }\n";
    return success();
  }

  /// Extents as numbers, the batch ("n") as -1: the autoschedulers' estimates.
  static std::vector<int64_t> numericExtents(llvm::ArrayRef<std::string> extents) {
    std::vector<int64_t> numbers;
    for (const std::string &e : extents)
      numbers.push_back(e == "n" ? -1 : std::stoll(e));
    return numbers;
  }

  /// For tests of the differential checker only: swaps the buffers of two
  /// arguments of one family's calls (EmitOptions::swapKernelArgs).
  void injectSwap(const bnnc::KernelRequest &request, const bnnc::KernelSignature &signature,
                  std::vector<const BoundBuffer *> &buffers) {
    auto [family, names] = llvm::StringRef(options.swapKernelArgs).split(':');
    if (family != bnnc::familyName(request.kind))
      return;
    auto [first, second] = names.split(',');
    auto position = [&](llvm::StringRef name) {
      for (size_t i = 0; i < signature.size(); ++i)
        if (signature[i].name == name)
          return int(i);
      return -1;
    };
    int a = position(first), b = position(second);
    if (a >= 0 && b >= 0)
      std::swap(buffers[size_t(a)], buffers[size_t(b)]);
  }

  //===--- bnnrt's C++ kernels --------------------------------------------===//

  LogicalResult emitCppCall(Operation *op, const bnnc::KernelRequest &request,
                            const KernelCall &call, const Bindings &b) {
    std::string text, scratchProduct;
    llvm::StringRef pattern = bnnc::cppKernelTemplate(request);
    if (pattern.empty())
      return op->emitOpError() << "has no kernel in bnnrt's C++ kernel set (--kernels=cpp)";
    size_t position = 0;
    for (size_t open; (open = pattern.find('{', position)) != llvm::StringRef::npos;) {
      size_t close = pattern.find('}', open);
      text += pattern.slice(position, open).str();
      std::string value;
      if (failed(fillHole(op, pattern.slice(open + 1, close), request, call, b,
                          scratchProduct, value)))
        return failure();
      text += value;
      position = close + 1;
    }
    text += pattern.drop_front(position).str();
    os << "  " << text << "\n";
    return success();
  }

  /// One `{hole}` of a C++ kernel template.
  LogicalResult fillHole(Operation *op, llvm::StringRef hole, const bnnc::KernelRequest &request,
                         const KernelCall &call, const Bindings &b, std::string &scratchProduct,
                         std::string &value) {
    auto [kind, arg] = hole.split(':');
    auto valueOf = [&](llvm::StringRef name) -> Value {
      for (const auto *list : {&call.inputs, &call.outputs, &call.scratch})
        for (const KernelOperand &operand : *list)
          if (operand.arg == name)
            return operand.value;
      return {};
    };
    const KernelCall::Window &w = call.window;
    if (kind == "length") value = std::to_string(request.length);
    else if (kind == "units") value = std::to_string(request.units);
    else if (kind == "words") value = std::to_string((request.length + 63) / 64);
    else if (kind == "pool_window") value = std::to_string(request.pool);
    else if (kind == "quantization")
      value = std::string("WeightQuantization::") +
              (request.scaled ? "BinaryScaled" : request.binary ? "Binary" : "Real");
    else if (kind == "epsilon") value = formatExactDouble(request.epsilon) + "f";
    else if (kind == "momentum") value = formatExactDouble(request.momentum) + "f";
    else if (kind == "loss") value = call.stepLoss.empty() ? "" : "out.loss = ";
    else if (kind == "conv")
      value = llvm::formatv("ConvShape{{n, {0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}", w.channels,
                            w.height, w.width, w.filters, w.kernelH, w.kernelW, w.stride, w.pad);
    else if (kind == "pool")
      value = llvm::formatv("reference::PoolShape{{n, {0}, {1}, {2}, {3}, {4}, {5}}", w.channels,
                            w.height, w.width, w.kernelH, w.stride, w.pad);
    else if (kind == "scratch") {
      if (scratchProduct.empty())
        scratchProduct = scratch(op->getResult(0), KernelView::Flat);
      value = scratchProduct;
    } else if (kind == "param") {
      value = b.scalars.empty() ? "" : b.scalars.front().second;
    } else if (kind == "size" || kind == "channels" || kind == "rows" || kind == "spatial") {
      Value v = valueOf(arg);
      if (!v)
        return op->emitOpError() << "C++ kernel template names no argument '" << arg << "'";
      bool perChannel = kind == "channels" || kind == "spatial";
      std::vector<std::string> e =
          extentsOf(v, perChannel ? KernelView::Channels : KernelView::Rows);
      value = kind == "size"      ? size(v)
              : kind == "rows"    ? e[1]
              : kind == "spatial" ? e[0]
                               : llvm::formatv("{{{0}, {1}, {2}}", e[2], e[1], e[0]).str();
    } else if (const BoundBuffer *buffer = b.find(kind)) {
      value = buffer->pointer;
    } else if (kind == "bias") {
      value = "nullptr"; // an optional argument left unbound
    } else {
      return op->emitOpError() << "binds no value to '" << kind << "' of its C++ kernel";
    }
    return success();
  }

  //===--- profiler sites -------------------------------------------------===//

  /// Writes the op's buffer declarations, then its calls timed as one
  /// profiler site (ops that emit no call, like reshapes, get none).
  void flushOp(Operation *op, llvm::StringRef siteFunction) {
    out << declarationText;
    declarationText.clear();
    std::string calls = body;
    body.clear();
    if (calls.empty())
      return;
    if (isa<func::ReturnOp>(op)) {
      out << calls;
      return;
    }
    KernelSiteRecord site = siteOf(siteFunction, op, currentKernel);
    site.bf16Kernel = currentBf16Kernel;
    site.int8Kernel = currentInt8Kernel;
    site.opsPerItem = currentOpsPerItem;
    site.binaryOps = currentBinaryOps;
    sites.push_back(site);
    currentBf16Kernel.clear();
    currentInt8Kernel.clear();
    currentOpsPerItem = 0;
    currentBinaryOps = false;
    bool once = isParamOnly(op);
    if (once)
      out << "  if (!in.paramsUnchanged) {\n";
    out << "  { bnnrt::KernelTimer timer(" << sites.size() - 1 << ", n);\n" << calls << "  }\n";
    emitFiniteCheck(sites.size() - 1);
    if (once)
      out << "  }\n";
  }

  /// The check of the results noted for site `site`, after its timer (the
  /// scan is no kernel time). Normal steps pay one branch; a checked step
  /// (a replay of a diverged one) scans them, on the GPU after a copy to
  /// the host.
  void emitFiniteCheck(size_t site) {
    if (!currentResults.empty() || currentLoss) {
      out << "  if (in.checkFinite) {\n";
      for (const auto &[pointer, count] : currentResults)
        out << "    bnnrt::noteNonFinite(" << site << ", "
            << (gpu ? "dev.hostRead(" + pointer + ", " + count + ")" : pointer) << ", " << count
            << ");\n";
      // On the GPU too the loss is on the host already (a mean taken there).
      if (currentLoss)
        out << "    bnnrt::noteNonFinite(" << site << ", &out.loss, 1);\n";
      out << "  }\n";
    }
    currentResults.clear();
    currentLoss = false;
  }

  // An op's calls go to `body` (through `os`), its buffer declarations to
  // `declarationText`; flushOp writes both to `out`.
  std::string body;
  llvm::raw_string_ostream os;
  std::string declarationText;
  llvm::raw_string_ostream declarations{declarationText};
  llvm::raw_ostream &out;
  const llvm::StringMap<size_t> &paramIndex;
  llvm::DenseMap<Value, std::string> names;
  Slots floatSlots, wordSlots;
  size_t nextName = 0;
  llvm::DenseMap<Value, Value> aliasOf;
  llvm::DenseMap<Value, Slot> slotOf;
  llvm::DenseMap<Operation *, llvm::SmallVector<Value>> dyingAfter;
  llvm::DenseSet<Operation *> paramOnlyOps;
  llvm::SmallVector<Slot> opScratch;
  std::vector<bnnc::KernelRequest> *halideKernels;
  const bnnc::EmitOptions &options;
  std::vector<KernelSiteRecord> &sites;
  bool gpu;
  /// Started buckets not yet waited for (by their all-reduce), with their
  /// ids; buckets are numbered in the order they start.
  llvm::DenseMap<Operation *, size_t> bucketsInFlight;
  size_t bucketsDone = 0;
  size_t batchNormSumsDone = 0; // synchronised batchnorm's buffers
  Operation *currentOp = nullptr;
  std::string currentKernel, currentBf16Kernel, currentInt8Kernel;
  double currentOpsPerItem = 0;
  bool currentBinaryOps = false;
  /// The current op's float results (pointer, element count) and whether
  /// it sets the step's loss: what its finite check scans.
  std::vector<std::pair<std::string, std::string>> currentResults;
  bool currentLoss = false;
};

const char *initKindName(InitKind kind) {
  switch (kind) {
  case InitKind::constant: return "Constant";
  case InitKind::uniform: return "Uniform";
  case InitKind::normal: return "Normal";
  case InitKind::glorot_uniform: return "GlorotUniform";
  case InitKind::he_normal: return "HeNormal";
  }
  return "Constant";
}

/// A C++ string literal.
std::string quote(llvm::StringRef text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      result += '\\';
    result += c;
  }
  return result + "\"";
}

void emitSpec(func::FuncOp model, ModuleOp module, llvm::StringRef source,
              llvm::ArrayRef<KernelSiteRecord> sites, bool cuda, bool mpi,
              llvm::raw_ostream &os) {
  os << "ModelSpec makeSpec() {\n  ModelSpec spec;\n"
     << "  spec.name = " << quote(model.getName()) << ";\n"
     << "  spec.source = " << quote(source) << ";\n";
  auto input = model.getArgument(0).getType().cast<ShapedType>().getShape();
  os << "  spec.inputShape = {";
  llvm::interleaveComma(input.drop_front(), os);
  os << "};\n  spec.classes = "
     << model.getFunctionType().getResult(0).cast<ShapedType>().getShape()[1]
     << ";\n";
  for (auto hyper : module.getOps<HyperParamOp>())
    os << "  spec.hyperParams.push_back({" << quote(hyper.getSymName()) << ", "
       << formatExactDouble(hyper.getDefaultValue().convertToDouble()) << "});\n";
  model.walk([&](ParamOp param) {
    os << "  spec.params.push_back({" << quote(param.getName()) << ", {";
    llvm::interleaveComma(param.getValue().getType().cast<ShapedType>().getShape(), os);
    os << "}, InitKind::" << initKindName(param.getInit().getKind()) << ", {";
    llvm::interleaveComma(param.getInit().getArgs(), os, [&](const InitBound &b) {
      os << "{" << formatExactDouble(b.offset) << ", " << formatExactDouble(b.scale)
         << ", " << quote(b.param ? b.param.getValue() : "") << "}";
    });
    os << "}, " << (param.getState() ? "true" : "false") << ", "
       << (param.isLatentBinaryWeight() ? "true" : "false") << ", "
       << (param.isSignOnlyWeight() ? "true" : "false") << "});\n";
  });
  for (const KernelSiteRecord &site : sites)
    os << "  {\n    KernelSite site;\n    site.function = " << quote(site.function)
       << ";\n    site.op = " << quote(site.op) << ";\n    site.location = "
       << quote(site.location) << ";\n    site.kernel = " << quote(site.kernel)
       << ";\n    site.bf16Kernel = " << quote(site.bf16Kernel)
       << ";\n    site.int8Kernel = " << quote(site.int8Kernel)
       << ";\n    site.cudaKernel = " << quote(site.cudaKernel)
       << ";\n    site.opsPerItem = " << formatExactDouble(site.opsPerItem)
       << ";\n    site.binaryOps = " << (site.binaryOps ? "true" : "false")
       << ";\n    spec.kernelSites.push_back(site);\n  }\n";
  os << "  spec.trainStep = trainStep;\n  spec.evalStep = evalStep;\n";
  if (mpi)
    os << "  spec.openMpi = openMpiCollectives;\n";
  if (cuda)
    os << "  spec.cudaTrainStep = trainStepCuda;\n  spec.cudaEvalStep = evalStepCuda;\n"
       << "  spec.openCuda = openCudaDevice;\n";
  os << "  return spec;\n}\n";
}

} // namespace

LogicalResult bnnc::emitCpp(ModuleOp module, llvm::StringRef sourceName,
                            llvm::raw_ostream &os,
                            std::vector<KernelRequest> *halideKernels,
                            const EmitOptions &options) {
  func::FuncOp model, trainStep;
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function->hasAttr("bnn.model"))
      model = function;
    if (function->hasAttr("bnn.train_step"))
      trainStep = function;
  }
  if (!model || !trainStep)
    return module.emitError()
           << "the C++ plan needs a bnn.model function and its train step "
              "(run bnn-generate-train-step first)";
  llvm::StringMap<size_t> paramIndex;
  model.walk([&](ParamOp param) {
    paramIndex.try_emplace(param.getName(), paramIndex.size());
  });

  // The functions first, into a string: they decide which Halide kernels
  // the file must declare.
  std::string functions;
  llvm::raw_string_ostream body(functions);
  std::vector<KernelSiteRecord> sites;
  if (failed(FunctionEmitter(body, paramIndex, halideKernels, options, sites)
                 .emit(trainStep, "trainStep", "train")) ||
      failed(FunctionEmitter(body, paramIndex, halideKernels, options, sites)
                 .emit(model, "evalStep", "eval")))
    return failure();
  bool cuda = options.cudaKernels && halideKernels;
  if (cuda) {
    // The same functions again with GPU kernels. They make the same calls
    // in the same order, so they share the profiler's sites.
    std::vector<KernelSiteRecord> gpuSites;
    if (failed(FunctionEmitter(body, paramIndex, halideKernels, options, gpuSites, true)
                   .emit(trainStep, "trainStepCuda", "train")) ||
        failed(FunctionEmitter(body, paramIndex, halideKernels, options, gpuSites, true)
                   .emit(model, "evalStepCuda", "eval")))
      return failure();
    if (gpuSites.size() != sites.size())
      return module.emitError() << "the GPU plan has " << gpuSites.size()
                                << " kernel call sites, the host plan " << sites.size();
    for (size_t i = 0; i < sites.size(); ++i)
      sites[i].cudaKernel = gpuSites[i].kernel;
  }

  os << "// Generated by bnnc from " << sourceName << ": model '"
     << model.getName() << "'. Do not edit; recompile the model instead.\n"
     << "#include \"bnnrt/Kernels.h\"\n#include \"bnnrt/Model.h\"\n"
     << "#include \"bnnrt/Reference.h\"\n";
  if (options.mpi)
    os << "#include \"bnnrt/MpiCollectives.h\"\n";
  if (halideKernels && !halideKernels->empty()) {
    // The headers Halide wrote for the kernels: a call whose arguments do
    // not match a kernel's signature does not compile.
    os << "#include \"bnnrt/HalideBuffer.h\"\n"
       << (cuda ? "#include \"bnnrt/CudaDevice.h\"\n" : "") << "\n"
       << "// Halide kernels, compiled ahead of time for this model.\n";
    for (const bnnc::KernelRequest &kernel : *halideKernels)
      os << "#include \"" << kernel.symbol << ".h\"\n";
  }
  os << "\nnamespace {\nusing namespace bnnrt;\nusing kernels::ConvShape;\nusing kernels::WeightQuantization;\n\n"
     << body.str();
  emitSpec(model, module, sourceName, sites, cuda, options.mpi, os);
  os << "} // namespace\n\n"
     << "int main(int argc, char **argv) {\n"
     << "  static const ModelSpec spec = makeSpec();\n"
     << "  return runCli(argc, argv, spec);\n}\n";
  return success();
}
