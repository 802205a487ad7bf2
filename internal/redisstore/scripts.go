package redisstore

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// load builds a script from one body and the parts of the shared prelude,
// lib.lua, that it uses, so helpers such as the ledger's reconcile exist
// once in source.
func load(name string) *redis.Script {
	lib, err := luaFiles.ReadFile("lua/lib.lua")
	if err != nil {
		panic("redisstore: missing lua/lib.lua: " + err.Error()) // build-time invariant
	}
	body, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("redisstore: missing lua/" + name + ".lua: " + err.Error())
	}
	return redis.NewScript(prelude(string(lib), string(body)) + string(body))
}

var (
	addScript        = load("add")
	leaseScript      = load("lease")
	completeScript   = load("complete")
	failScript       = load("fail")
	heartbeatScript  = load("heartbeat")
	registerScript   = load("register")
	deregisterScript = load("deregister")
	setMetaScript    = load("setmeta")
	cancelScript     = load("cancel")
	resumeScript     = load("resume")
	snapshotScript   = load("snapshot")
	restampScript    = load("restamp")
)
