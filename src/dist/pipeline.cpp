#include "dist/pipeline.h"

#include <mpi.h>
#include <sched.h>
#include <sys/prctl.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "model/kv_cache.h"
#include "model/runner.h"

namespace cria::dist {

namespace {

using Clock = std::chrono::steady_clock;

// Point-to-point tags. Messages between two ranks with one tag arrive in the order they were sent, so
// micro-batches need no numbers of their own.
enum Tag : int { kCommandTag = 1, kReplyTag = 2, kHiddenTag = 3, kLogitsTag = 4, kPingTag = 5 };
enum Command : int32_t { kLoad = 1, kPass = 2, kStop = 3, kPing = 4 };

struct State {
  int rank = 0, size = 1;
  bool active = false;
  std::string split_mode;
  std::vector<double> shares;
  std::vector<model::LayerRange> stages;
  int64_t n_embd = 0, n_vocab = 0;  // for the hop report
  int32_t generation = 0;           // models loaded so far (MpiLink)
  bool pass_open = false;           // rank 0 announced a pass it has not finished
};

State& state() {
  static State s;
  return s;
}

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "cria: error: rank %d of %d: %s\n", state().rank, state().size, what.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

void check(int rc, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fatal(what + ": MPI: " + std::string(text, static_cast<size_t>(len)));
}

double pass_timeout_seconds() {
  const char* env = std::getenv("CRIA_PIPELINE_TIMEOUT");
  const double s = env != nullptr ? std::atof(env) : 0.0;
  return s > 0 ? s : 600.0;
}

// Polls `ready` until it says yes. MPI_Test and MPI_Iprobe are also what move messages along, so a wait
// calls them in a loop: spinning first (a hop's latency), then yielding the core, then sleeping, 20 us and
// later `idle_us`, so that a waiting rank leaves the core to a neighbour that computes (mpirun
// --oversubscribe). `timed`: inside a pass, where nothing for pass_timeout_seconds() means a stuck rank.
template <class Ready>
void wait_until(Ready ready, const std::string& what, bool timed, int idle_us) {
  const auto start = Clock::now();
  const double limit = pass_timeout_seconds();
  for (long i = 0; !ready(); ++i) {
    if (i < 2000) continue;
    if (i < 4000) {
      sched_yield();
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(i < 20000 ? 20 : idle_us));
    if (timed && i % 64 == 0 && std::chrono::duration<double>(Clock::now() - start).count() > limit) {
      fatal(what + ": nothing came for " + std::to_string(static_cast<int>(limit)) +
            " s (CRIA_PIPELINE_TIMEOUT); a rank is stuck");
    }
  }
}

// Waits for a request (its status into `status`, if given).
void wait(MPI_Request& request, const std::string& what, bool timed, MPI_Status* status = MPI_STATUS_IGNORE) {
  wait_until(
      [&] {
        int done = 0;
        check(MPI_Test(&request, &done, status), what);
        return done != 0;
      },
      what, timed, 500);
}

// One round trip of `buf` with `peer`: sent first and then received back, or the other way round.
void round_trip(std::vector<float>& buf, int peer, bool send_first) {
  for (int leg = 0; leg < 2; ++leg) {
    MPI_Request r;
    if ((leg == 0) == send_first) {
      check(MPI_Isend(buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, peer, kPingTag, MPI_COMM_WORLD, &r), "ping");
    } else {
      check(MPI_Irecv(buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, peer, kPingTag, MPI_COMM_WORLD, &r), "ping");
    }
    wait(r, "ping", true);
  }
}

// A message of int32 words, with strings packed four bytes a word.
class Wire {
 public:
  Wire() = default;
  explicit Wire(std::vector<int32_t> words) : words_(std::move(words)) {}
  void put(int32_t w) { words_.push_back(w); }
  void put(const std::string& s) {
    put(static_cast<int32_t>(s.size()));
    const size_t at = words_.size();
    words_.resize(at + (s.size() + 3) / 4, 0);
    std::memcpy(words_.data() + at, s.data(), s.size());
  }
  void put_all(std::span<const int32_t> ws) {
    put(static_cast<int32_t>(ws.size()));
    words_.insert(words_.end(), ws.begin(), ws.end());
  }
  int32_t take() {
    if (at_ >= words_.size()) fatal("a message from rank 0 is cut short");
    return words_[at_++];
  }
  std::span<const int32_t> take_all() {
    const int32_t n = take();
    if (n < 0 || static_cast<size_t>(n) > words_.size() - at_) fatal("a message from rank 0 is cut short");
    std::span<const int32_t> out(words_.data() + at_, static_cast<size_t>(n));
    at_ += static_cast<size_t>(n);
    return out;
  }
  std::string take_string() {
    const int32_t n = take();
    const size_t words = (static_cast<size_t>(n) + 3) / 4;
    if (n < 0 || words > words_.size() - at_) fatal("a message from rank 0 is cut short");
    std::string s(reinterpret_cast<const char*>(words_.data() + at_), static_cast<size_t>(n));
    at_ += words;
    return s;
  }
  const std::vector<int32_t>& words() const { return words_; }

 private:
  std::vector<int32_t> words_;
  size_t at_ = 0;
};

void send(const Wire& wire, int to, int tag, const std::string& what) {
  MPI_Request r;
  check(MPI_Isend(wire.words().data(), static_cast<int>(wire.words().size()), MPI_INT32_T, to, tag, MPI_COMM_WORLD, &r),
        what);
  wait(r, what, true);
}

// The next message from `from` with `tag`, of any length; `timed` as for wait().
Wire receive(int from, int tag, const std::string& what, bool timed) {
  MPI_Status status;
  // An idle stage (a server with no requests) looks every 2 ms.
  wait_until(
      [&] {
        int found = 0;
        check(MPI_Iprobe(from, tag, MPI_COMM_WORLD, &found, &status), what);
        return found != 0;
      },
      what, timed, 2000);
  int count = 0;
  check(MPI_Get_count(&status, MPI_INT32_T, &count), what);
  std::vector<int32_t> words(static_cast<size_t>(count));
  check(MPI_Recv(words.data(), count, MPI_INT32_T, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), what);
  return Wire(std::move(words));
}

int float_count(size_t n) {
  if (n > static_cast<size_t>(INT32_MAX)) fatal("a message of " + std::to_string(n) + " floats is too large for one MPI call");
  return static_cast<int>(n);
}

// The MPI side of model::PipelineLink for this rank's stage.
// `generation` numbers the models rank 0 has had the ranks load: a pass names its model's, so that a
// stage never runs a pass of a model it no longer holds (each rank keeps one at a time).
class MpiLink final : public model::PipelineLink {
 public:
  MpiLink(int stage, int n_stages, int32_t generation) : stage_(stage), n_stages_(n_stages), generation_(generation) {}
  int stage() const override { return stage_; }
  int n_stages() const override { return n_stages_; }

  void announce(const model::PassHeader& h, std::span<const int32_t> journal, const model::Batch& batch) override {
    Wire w;
    w.put(kPass);
    w.put(generation_);
    w.put(static_cast<int32_t>(h.cache_uid & 0x7fffffff));
    w.put(static_cast<int32_t>(h.cache_uid >> 31));
    for (int32_t v : {h.n_cells, h.n_seq_max, h.k_type, h.v_type, h.n_batch, h.n_threads, h.max_keys, h.flash_attn,
                      h.batch_invariant}) {
      w.put(v);
    }
    w.put_all(journal);
    w.put(batch.size());
    for (int i = 0; i < batch.size(); ++i) {
      w.put(batch.token(i));
      w.put(batch.pos(i));
      w.put(batch.wants_logits(i) ? 1 : 0);
      w.put_all(batch.seqs(i));
    }
    state().pass_open = true;
    for (int r = 1; r < n_stages_; ++r) send(w, r, kCommandTag, "sending a pass to rank " + std::to_string(r));
  }

  void receive_hidden(int micro, std::span<float> rows) override {
    receive_rows(rows, stage_ - 1, kHiddenTag,
                 "receiving micro-batch " + std::to_string(micro) + " from rank " + std::to_string(stage_ - 1));
  }
  void send_hidden(int micro, std::span<const float> rows) override {
    post_send(rows, stage_ + 1, kHiddenTag, "sending micro-batch " + std::to_string(micro) + " to rank " +
                                                std::to_string(stage_ + 1));
  }
  void send_logits(int micro, std::span<const float> rows) override {
    post_send(rows, 0, kLogitsTag, "sending the logits of micro-batch " + std::to_string(micro) + " to rank 0");
  }
  void receive_logits(int micro, std::span<float> rows) override {
    receive_rows(rows, n_stages_ - 1, kLogitsTag,
                 "receiving the logits of micro-batch " + std::to_string(micro) + " from rank " +
                     std::to_string(n_stages_ - 1));
  }
  void progress() override {
    if (sends_.empty()) return;
    int done = 0;
    check(MPI_Testall(static_cast<int>(sends_.size()), sends_.data(), &done, MPI_STATUSES_IGNORE), "sending rows");
    if (done != 0) sends_.clear();
  }
  void finish() override {
    for (MPI_Request& r : sends_) wait(r, "finishing a pass's sends", true);
    sends_.clear();
    state().pass_open = false;
  }

 private:
  // Receives exactly rows.size() floats: a message of another length means the ranks planned the pass
  // differently, which must stop the job rather than leave rows unwritten.
  void receive_rows(std::span<float> rows, int from, int tag, const std::string& what) {
    MPI_Request r;
    MPI_Status status;
    check(MPI_Irecv(rows.data(), float_count(rows.size()), MPI_FLOAT, from, tag, MPI_COMM_WORLD, &r), what);
    wait(r, what, true, &status);
    int count = 0;
    check(MPI_Get_count(&status, MPI_FLOAT, &count), what);
    if (static_cast<size_t>(count) != rows.size()) {
      fatal(what + ": " + std::to_string(count) + " floats came, " + std::to_string(rows.size()) + " were expected");
    }
  }

  void post_send(std::span<const float> rows, int to, int tag, const std::string& what) {
    MPI_Request r;
    check(MPI_Isend(rows.data(), float_count(rows.size()), MPI_FLOAT, to, tag, MPI_COMM_WORLD, &r), what);
    sends_.push_back(r);
  }

  int stage_, n_stages_;
  int32_t generation_;
  std::vector<MPI_Request> sends_;
};

std::string range_text(const model::LayerRange& r, uint32_t n_layer) {
  std::string s = "layers " + r.text();
  if (r.begin == 0) s += " and the token embedding";
  if (r.end == n_layer) s += std::string(r.begin == 0 ? "," : " and") + " the output head";
  return s;
}

bool report_asked() {
  const char* env = std::getenv("CRIA_MEMORY_REPORT");
  return env != nullptr && std::strcmp(env, "0") != 0;
}

void report_resident(const model::Model& m) {
  const model::LayerRange r = m.held_layers();
  std::fprintf(stderr, "cria: rank %d: %s: resident weights %.1f MiB\n", state().rank,
               range_text(r, m.hparams().n_layer).c_str(), static_cast<double>(m.resident_weight_bytes()) / (1 << 20));
}

// Ranks 1 .. K-1: load when told, mirror rank 0's runner and cache, run each pass's layers.
class Stage {
 public:
  int run() {
    // mpirun passes Ctrl-C and SIGTERM to every rank; rank 0 decides when the job ends (a server finishes
    // its streams first) and tells the stages, and if it dies instead mpirun ends them.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    for (;;) {
      Wire w = receive(0, kCommandTag, "waiting for rank 0", false);
      switch (w.take()) {
        case kLoad:
          load(w);
          break;
        case kPass:
          run_pass(w);
          break;
        case kPing:
          echo(w);
          break;
        case kStop:
          if (report_asked() && model_) report_resident(*model_);
          return 0;
        default:
          fatal("an unknown command from rank 0");
      }
    }
  }

 private:
  // The model's file, this rank's layers; the answer says whether it loaded.
  void load(Wire& w) {
    runner_.reset();
    cache_.reset();
    model_.reset();
    generation_ = w.take();
    const std::string path = w.take_string();
    model::ModelPart part;
    part.layers.begin = static_cast<uint32_t>(w.take());
    part.layers.end = static_cast<uint32_t>(w.take());
    part.link = std::make_shared<MpiLink>(state().rank, state().size, generation_);
    auto loaded = model::Model::load(path, ops::selected_isa(), part);
    Wire reply;
    reply.put(loaded ? 0 : 1);
    reply.put(loaded ? std::string() : loaded.error().message);
    if (loaded) model_ = *loaded;
    send(reply, 0, kReplyTag, "answering rank 0's load");
  }

  // One forward pass as rank 0 announced it (MpiLink::announce wrote the message).
  void run_pass(Wire& w) {
    if (!model_) fatal("rank 0 sent a pass before a model");
    if (w.take() != generation_) {
      fatal("rank 0 ran a model it loaded before its latest one; a pipeline holds one model at a time");
    }
    model::PassHeader h;
    const auto lo = static_cast<uint32_t>(w.take());
    const auto hi = static_cast<uint32_t>(w.take());
    h.cache_uid = (static_cast<uint64_t>(hi) << 31) | lo;
    h.n_cells = w.take(), h.n_seq_max = w.take(), h.k_type = w.take(), h.v_type = w.take();
    h.n_batch = w.take(), h.n_threads = w.take(), h.max_keys = w.take(), h.flash_attn = w.take();
    h.batch_invariant = w.take();
    const std::span<const int32_t> journal = w.take_all();
    batch_.clear();
    const int32_t n = w.take();
    for (int32_t i = 0; i < n; ++i) {
      const int32_t token = w.take(), pos = w.take();
      const bool logits = w.take() != 0;
      batch_.add(token, pos, w.take_all(), logits);
    }
    mirror_runner(h);
    mirror_cache(h);
    if (auto s = cache_->replay(journal); !s) fatal(s.error().message);
    if (auto s = runner_->decode(batch_, *cache_); !s) fatal("a pass rank 0 accepted fails here: " + s.error().message);
  }

  // A runner with rank 0's options (made again when they change).
  void mirror_runner(const model::PassHeader& h) {
    if (runner_ && h.n_batch == current_.n_batch && h.n_threads == current_.n_threads &&
        h.max_keys == current_.max_keys && h.flash_attn == current_.flash_attn &&
        h.batch_invariant == current_.batch_invariant) {
      return;
    }
    model::RunnerOptions o;
    o.n_batch = h.n_batch;
    o.n_threads = h.n_threads;
    o.max_keys = h.max_keys;
    o.flash_attn = h.flash_attn != 0;
    o.batch_invariant = h.batch_invariant != 0;
    runner_.reset();
    auto made = model::Runner::create(model_, o);
    if (!made) fatal(made.error().message);
    runner_ = std::move(*made);
    current_ = h;
  }

  // This rank's share of rank 0's cache: a new one when rank 0 made a new one; never an older one.
  void mirror_cache(const model::PassHeader& h) {
    if (h.cache_uid == cache_uid_) {
      if (!cache_) fatal("rank 0 used a KV cache made before its latest model");
      return;
    }
    if (h.cache_uid < cache_uid_) fatal("rank 0 went back to an earlier KV cache; a pipeline keeps one at a time");
    cache_.reset();
    auto made = model::KvCache::create(model_->hparams(), h.n_cells, h.n_seq_max,
                                       {static_cast<TensorType>(h.k_type), static_cast<TensorType>(h.v_type)},
                                       model_->held_layers());
    if (!made) fatal(made.error().message);
    cache_.emplace(std::move(*made));
    cache_uid_ = h.cache_uid;
  }

  // Echoes n floats back to rank 0, `rounds` times (rank 0 times the round trips: report_hops).
  static void echo(Wire& w) {
    const int32_t floats = w.take(), rounds = w.take();
    std::vector<float> buf(static_cast<size_t>(floats));
    for (int32_t i = 0; i < rounds; ++i) round_trip(buf, 0, /*send_first=*/false);
  }

  std::shared_ptr<const model::Model> model_;
  int32_t generation_ = -1;
  std::unique_ptr<model::Runner> runner_;
  model::PassHeader current_;
  std::optional<model::KvCache> cache_;
  uint64_t cache_uid_ = 0;
  model::Batch batch_;
};

// Rank 0 with CRIA_MEMORY_REPORT: the mean one-way time to rank 1 and back of what a generated token
// sends: a hidden row (n_embd floats, rank to rank) and a logits row (n_vocab floats, last rank to rank 0).
void report_hops() {
  const State& st = state();
  for (auto [floats, what] : {std::pair{st.n_embd, "a hidden row"}, std::pair{st.n_vocab, "a logits row"}}) {
    if (floats <= 0) continue;
    constexpr int kRounds = 200;
    Wire w;
    w.put(kPing);
    w.put(static_cast<int32_t>(floats));
    w.put(kRounds);
    send(w, 1, kCommandTag, "ping");
    std::vector<float> buf(static_cast<size_t>(floats), 1.0f);
    const auto start = Clock::now();
    for (int i = 0; i < kRounds; ++i) round_trip(buf, 1, /*send_first=*/true);
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / (2.0 * kRounds);
    std::fprintf(stderr, "cria: rank 0: one hop of %s (%lld floats) to rank 1: %.1f us\n", what,
                 static_cast<long long>(floats), us);
  }
}

}  // namespace

Result<std::vector<double>> parse_tensor_split(const std::string& text) {
  std::vector<double> shares;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find_first_of(",/", start);
    const std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    char* stop = nullptr;
    const double v = std::strtod(part.c_str(), &stop);
    if (part.empty() || *stop != '\0' || !std::isfinite(v) || v < 0) {
      return make_error("--tensor-split " + text + ": '" + part + "' is not a non-negative number");
    }
    shares.push_back(v);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  double total = 0;
  for (double v : shares) total += v;
  if (total <= 0) return make_error("--tensor-split " + text + ": the shares add up to nothing");
  return shares;
}

Result<std::vector<model::LayerRange>> plan_stages(uint32_t n_layer, int n_ranks, const std::vector<double>& shares) {
  if (n_ranks < 1) return make_error("a pipeline needs at least one process");
  if (!shares.empty() && static_cast<int>(shares.size()) > n_ranks) {
    return make_error("--tensor-split gives " + std::to_string(shares.size()) + " shares for " +
                      std::to_string(n_ranks) + " processes");
  }
  if (static_cast<uint32_t>(n_ranks) > n_layer) {
    return make_error(std::to_string(n_ranks) + " processes for a model of " + std::to_string(n_layer) +
                      " layers: each process needs at least one layer");
  }
  // Missing shares are 0, as llama.cpp's; no shares at all are equal ones.
  std::vector<double> w(static_cast<size_t>(n_ranks), shares.empty() ? 1.0 : 0.0);
  for (size_t i = 0; i < shares.size(); ++i) w[i] = shares[i];
  double total = 0;
  for (double v : w) total += v;
  std::vector<model::LayerRange> stages;
  double sum = 0;
  uint32_t begin = 0;
  for (int r = 0; r < n_ranks; ++r) {
    sum += w[static_cast<size_t>(r)];
    const auto end = r + 1 == n_ranks ? n_layer : static_cast<uint32_t>(std::lround(n_layer * sum / total));
    if (end <= begin) {
      return make_error("rank " + std::to_string(r) + " gets no layers of " + std::to_string(n_layer) +
                        "; give it a larger share in --tensor-split or start fewer processes");
    }
    stages.push_back({begin, end});
    begin = end;
  }
  return stages;
}

std::optional<int> start(int argc, char** argv) {
  // The launcher tells each process the job's size (Open MPI's mpirun, or a PMI launcher such as MPICH's
  // Hydra); without it, or alone, there is nothing to do and MPI is not started.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) size = std::getenv("PMI_SIZE");
  if (size == nullptr || std::atoi(size) <= 1) return std::nullopt;
  int provided = 0;
  // Rank 0's server calls decode from its scheduler thread, one call at a time.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "cria: error: MPI_Init failed\n");
    return 1;
  }
  // Errors come back as codes, so that each can be said in words before the job is aborted.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  State& st = state();
  // The waits sleep for tens of microseconds; the default timer slack (50 us) would more than double that.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  MPI_Comm_rank(MPI_COMM_WORLD, &st.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &st.size);
  st.active = true;
  if (provided < MPI_THREAD_SERIALIZED) fatal("this MPI does not allow calls from more than one thread");
  if (st.rank == 0) return std::nullopt;
  const int code = Stage().run();
  MPI_Finalize();
  return code;
}

bool pipelined() { return state().active && state().rank == 0; }
int n_ranks() { return state().size; }

Status configure(const std::string& split_mode, const std::string& tensor_split) {
  State& st = state();
  if (!pipelined()) return Ok{};
  const std::string n = std::to_string(st.size);
  if (split_mode == "none") {
    return make_error("--split-mode none with " + n + " processes: use --split-mode layer, or start one process");
  }
  if (!split_mode.empty() && split_mode != "layer") {
    return make_error("--split-mode " + split_mode + ": across processes cria splits by layer (--split-mode layer)");
  }
  if (!tensor_split.empty()) {
    auto shares = parse_tensor_split(tensor_split);
    if (!shares) return shares.error();
    st.shares = *shares;
  }
  return Ok{};
}

Result<std::shared_ptr<const model::Model>> load_stage_model(gguf::File file) {
  State& st = state();
  auto hp = model::ModelHparams::from_gguf(file);
  if (!hp) return hp.error();
  auto stages = plan_stages(hp->n_layer, st.size, st.shares);
  if (!stages) return stages.error();
  st.stages = *stages;
  st.n_embd = hp->n_embd;
  // Every rank opens the same path: on several hosts it must be there on each (a shared or copied file).
  const int32_t generation = ++st.generation;
  for (int r = 1; r < st.size; ++r) {
    Wire w;
    w.put(kLoad);
    w.put(generation);
    w.put(file.path());
    w.put(static_cast<int32_t>(st.stages[static_cast<size_t>(r)].begin));
    w.put(static_cast<int32_t>(st.stages[static_cast<size_t>(r)].end));
    send(w, r, kCommandTag, "sending rank " + std::to_string(r) + " its layers");
  }
  model::ModelPart part;
  part.layers = st.stages[0];
  part.link = std::make_shared<MpiLink>(0, st.size, generation);
  auto model = model::Model::from_file(std::move(file), ops::selected_isa(), part);
  // Every rank answers, so that none is left waiting, before an error is returned.
  std::string errors;
  for (int r = 1; r < st.size; ++r) {
    Wire reply = receive(r, kReplyTag, "waiting for rank " + std::to_string(r) + " to load", false);
    if (reply.take() != 0) errors += (errors.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + reply.take_string());
  }
  if (!model) return model.error();
  if (!errors.empty()) return make_error(errors);
  st.n_vocab = (*model)->n_vocab();
  return model;
}

std::string describe_stages() {
  const State& st = state();
  if (st.stages.empty()) return "";
  const uint32_t n_layer = st.stages.back().end;
  std::string s = "pipeline over MPI, " + std::to_string(st.size) + " processes:";
  for (size_t r = 0; r < st.stages.size(); ++r) {
    s += (r ? "; " : " ") + ("rank " + std::to_string(r) + " " + range_text(st.stages[r], n_layer));
  }
  return s;
}

void stop(int exit_code) {
  if (!pipelined()) return;
  // Rank 0 left in the middle of a pass (an exception): the others wait for rows that will not come.
  if (state().pass_open) {
    std::fprintf(stderr, "cria: error: rank 0 ended (exit code %d) in the middle of a pass; ending every rank\n", exit_code);
    MPI_Abort(MPI_COMM_WORLD, exit_code != 0 ? exit_code : 1);
  }
  if (report_asked()) report_hops();
  Wire w;
  w.put(kStop);
  for (int r = 1; r < state().size; ++r) send(w, r, kCommandTag, "telling rank " + std::to_string(r) + " to end");
  MPI_Finalize();
}

}  // namespace cria::dist
