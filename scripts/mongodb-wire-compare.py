#!/usr/bin/env python3
"""Compares a MongoDB-wire server with what eventflow relies on (the table in docs/development.md).

Usage: python3 scripts/mongodb-wire-compare.py mongodb://127.0.0.1:PORT/
Needs pymongo (`python3 -m venv v && v/bin/pip install pymongo`); writes into database cmp_db.
Run against FerretDB from `scripts/dev-services.sh start`, or nx-27017 (`pip install nx-27017`,
`nx-27017 --db memory -p PORT`).
"""
import sys, time, datetime
from pymongo import MongoClient, ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, OperationFailure
from bson.int64 import Int64

uri = sys.argv[1]
c = MongoClient(uri, directConnection=True, serverSelectionTimeoutMS=5000)
db = c["cmp_db"]
res = {}

def check(name, fn):
    try:
        res[name] = fn()
    except Exception as e:
        res[name] = f"ERROR {type(e).__name__}: {str(e)[:150]}"

def dup():
    col = db["dup"]; col.drop()
    col.insert_one({"_id": "a"})
    try:
        col.insert_many([{"_id": "a"}, {"_id": "b"}, {"_id": "a"}, {"_id": "c"}], ordered=False)
        return "no error"
    except BulkWriteError as e:
        d = e.details
        return f"nInserted={d['nInserted']} errors={[ (w['index'], w['code']) for w in d['writeErrors']]} count={col.count_documents({})}"
check("unordered insert_many duplicates", dup)

def idx(keys):
    def f():
        col = db["idx"]; col.drop()
        col.create_index(keys)
        col.insert_many([{"_id": str(i), "id": str(i), "time": datetime.datetime(2026,1,1)+datetime.timedelta(seconds=i), "key": f"k{i%3}", "type": "T"} for i in range(10)])
        return f"ok, count={col.count_documents({})}, indexes={sorted(col.index_information().keys())}"
    return f
check("query index (time,id)", idx([("time", DESCENDING), ("id", DESCENDING)]))
check("compound index with _id (time,_id)", idx([("time", DESCENDING), ("_id", DESCENDING)]))

def names():
    out = []
    for n in ["with-dash", "with.dot", "events.user-activity"]:
        try:
            db[n].drop(); db[n].insert_one({"_id": 1}); out.append(f"{n}:ok({db[n].count_documents({})})")
        except Exception as e:
            out.append(f"{n}:ERR {str(e)[:60]}")
    return " ".join(out)
check("collection names - and .", names)

def find():
    col = db["find"]; col.drop()
    base = datetime.datetime(2026,1,1)
    col.insert_many([{"_id": f"{i:03}", "id": f"{i:03}", "time": base+datetime.timedelta(seconds=i//2), "k": i%2} for i in range(100)])
    q = {"$and": [{"time": {"$gte": base+datetime.timedelta(seconds=10)}}, {"time": {"$lt": base+datetime.timedelta(seconds=40)}}, {"k": 1},
         {"$or": [{"time": {"$lt": base+datetime.timedelta(seconds=30)}}, {"time": base+datetime.timedelta(seconds=30), "id": {"$lt": "061"}}]}]}
    docs = list(col.find(q).sort([("time", -1), ("id", -1)]).limit(5))
    return [d["_id"] for d in docs]
check("find range/$or/sort/limit", find)

def i64():
    col = db["i64"]; col.drop()
    col.insert_one({"_id": 1, "small": Int64(5), "big": Int64(5_000_000_000), "i32": 7})
    d = col.find_one({"_id": 1})
    return f"small={type(d['small']).__name__} big={type(d['big']).__name__}:{d['big']} i32={type(d['i32']).__name__}"
check("int64 round trip", i64)

def keys():
    col = db["keys"]; col.drop()
    out = []
    for doc in [{"_id": 1, "data": {"$date": "x"}}, {"_id": 2, "data": {"a.b": 1}}, {"_id": 3, "data": {"m": [[1,2],[3]]}}, {"_id": 4, "data": {"s": "nul\x00x"}}]:
        try:
            col.insert_one(doc); out.append(f"{doc['_id']}:ok")
        except Exception as e:
            out.append(f"{doc['_id']}:ERR {str(e)[:50]}")
    return " ".join(out)
check("data with $key / dotted key / nested array / NUL", keys)

def ttl():
    col = db["ttl"]; col.drop()
    col.create_index([("time", ASCENDING)], expireAfterSeconds=60)
    return "ok"
check("TTL index", ttl)

def tput():
    col = db["tput"]; col.drop()
    docs = [{"_id": f"e{i}", "id": f"e{i}", "type": "LOGIN", "source": "s", "time": datetime.datetime.now(), "data": {"userId": f"u{i}", "n": i}, "kafka": {"partition": 0, "offset": i}} for i in range(20000)]
    t = time.time()
    for j in range(0, len(docs), 100):
        col.insert_many(docs[j:j+100], ordered=False)
    dt = time.time() - t
    t = time.time()
    for j in range(200):
        col.find_one({"_id": f"e{j*50}"})
    g = (time.time() - t) / 200
    t = time.time()
    list(col.find({}).sort([("time", -1), ("id", -1)]).limit(50))
    s = time.time() - t
    return f"{len(docs)/dt:.0f} docs/s (batches of 100); get by _id {g*1000:.2f} ms; newest-50 over 20k {s*1000:.0f} ms"
check("throughput", tput)

for k, v in res.items():
    print(f"{k}: {v}")
