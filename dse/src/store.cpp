#include "heatvit/dse/store.hpp"

#include <sqlite3.h>

#include "heatvit/core/error.hpp"

namespace heatvit::dse {

namespace {

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql, const std::string& path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw InputError(path, "", std::string("results store: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw InputError(path_, "", "results store: " + msg);
  }
}

Store::Store(const std::string& path, const std::string& space_hash, const json& identity) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "cannot open";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError(path, "", "results store: " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
         "CREATE TABLE IF NOT EXISTS points(schedule_index INTEGER NOT NULL, hw_index INTEGER NOT NULL, "
         "split TEXT NOT NULL, images INTEGER NOT NULL, schedule TEXT NOT NULL, feasible INTEGER NOT NULL, "
         "metrics TEXT NOT NULL, correct BLOB, PRIMARY KEY(schedule_index, hw_index, split, images));");
    {
      Stmt q(db_, "SELECT value FROM meta WHERE key='space_hash'", path_);
      if (sqlite3_step(q.s) == SQLITE_ROW) {
        const std::string have = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
        if (have != space_hash)
          throw InputError(path, "space_hash",
                           "this results store holds a run of another space (" + have + ", this one is " + space_hash +
                               "); give another --out directory, or the space, model and hw that made it");
      } else {
        Stmt ins(db_, "INSERT INTO meta(key, value) VALUES ('space_hash', ?1), ('identity', ?2)", path_);
        const std::string id = identity.dump();
        sqlite3_bind_text(ins.s, 1, space_hash.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins.s, 2, id.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins.s) != SQLITE_DONE) throw InputError(path_, "", std::string("results store: ") + sqlite3_errmsg(db_));
      }
    }
    Stmt q(db_, "SELECT metrics, correct FROM points", path_);
    int rc;
    while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
      Metrics m;
      try {
        m = metrics_from_json(json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0))));
      } catch (const std::exception& e) {
        throw InputError(path, "points.metrics", std::string("a stored row cannot be read: ") + e.what());
      }
      const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(q.s, 1));
      m.correct_bits.assign(blob, blob + sqlite3_column_bytes(q.s, 1));
      rows_[{m.cand.schedule, m.cand.hw, static_cast<int>(m.split), m.images}] = std::move(m);
    }
    if (rc != SQLITE_DONE) throw InputError(path_, "", std::string("results store: ") + sqlite3_errmsg(db_));
    resumed_ = rows_.size();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

const Metrics* Store::find(const Candidate& c, Split split, int images) const {
  const auto it = rows_.find({c.schedule, c.hw, static_cast<int>(split), images});
  return it == rows_.end() ? nullptr : &it->second;
}

void Store::put(const std::vector<Metrics>& batch) {
  if (batch.empty()) return;
  exec("BEGIN IMMEDIATE");
  try {
    Stmt ins(db_,
             "INSERT OR REPLACE INTO points(schedule_index, hw_index, split, images, schedule, feasible, metrics, "
             "correct) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             path_);
    for (const Metrics& m : batch) {
      const json j = metrics_to_json(m);
      const std::string text = j.dump();
      sqlite3_reset(ins.s);
      sqlite3_bind_int64(ins.s, 1, m.cand.schedule);
      sqlite3_bind_int64(ins.s, 2, m.cand.hw);
      sqlite3_bind_text(ins.s, 3, split_name(m.split), -1, SQLITE_STATIC);
      sqlite3_bind_int(ins.s, 4, m.images);
      sqlite3_bind_text(ins.s, 5, j.value("schedule", std::string()).c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(ins.s, 6, m.feasible ? 1 : 0);
      sqlite3_bind_text(ins.s, 7, text.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(ins.s, 8, m.correct_bits.data(), static_cast<int>(m.correct_bits.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(ins.s) != SQLITE_DONE)
        throw InputError(path_, "", std::string("results store: ") + sqlite3_errmsg(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  for (const Metrics& m : batch) {
    const bool had = rows_.count({m.cand.schedule, m.cand.hw, static_cast<int>(m.split), m.images}) > 0;
    ++(had ? rewritten_ : added_);
    rows_[{m.cand.schedule, m.cand.hw, static_cast<int>(m.split), m.images}] = m;
  }
}

bool Store::get_extra(const std::string& key, json& out) const {
  Stmt q(db_, "SELECT value FROM meta WHERE key=?1", path_);
  const std::string k = "extra:" + key;
  sqlite3_bind_text(q.s, 1, k.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(q.s) != SQLITE_ROW) return false;
  out = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0)));
  return true;
}

void Store::put_extra(const std::string& key, const json& value) {
  Stmt q(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", path_);
  const std::string k = "extra:" + key, v = value.dump();
  sqlite3_bind_text(q.s, 1, k.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q.s, 2, v.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(q.s) != SQLITE_DONE) throw InputError(path_, "", std::string("results store: ") + sqlite3_errmsg(db_));
}

std::vector<const Metrics*> Store::all() const {
  std::vector<const Metrics*> out;
  for (const auto& [k, m] : rows_) out.push_back(&m);
  return out;
}

}  // namespace heatvit::dse
