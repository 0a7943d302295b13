-- Record and replay.  Modes (driven by tests/cli/test_lua_cli.sh):
--   record DIR   record a session (data, model, faults, eval, sweep) to
--                DIR/rec.lua and print its numbers
--   replay DIR   run DIR/rec.lua and print the same numbers from its results
-- Without a mode: both in one process (replay via dofile), compared here.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local lt = require "lt"
local bl = require "betlab"
local mode, dir = arg[1], arg[2] or lt.tmpdir()

local function numbers(ev, sw)
  local out = { string.format("eval %.17g %.17g %.17g", ev.accuracy, ev.ci_low, ev.ci_high) }
  for _, r in ipairs(sw:rows()) do
    out[#out + 1] = string.format("sweep %.17g %.17g %.17g %.17g", r.ber, r.accuracy, r.ci_low,
                                  r.ci_high)
  end
  return table.concat(out, "\n")
end

local function record()
  local csv = lt.write_csv(dir .. "/rec.csv", 120, 16, 4)
  local m = bl.model.random("16-32-4", 11)     -- made before recording starts
  bl.record.start(dir .. "/rec.lua")
  local ds = bl.data.load(csv):subset(3, 110)
  local f = bl.fault.new{ kind = "bitflip", p = 1 / 30 }
  f:set_layer_rate("fc2", 0.07)
  local ev = m:eval(ds, { fault = f, reps = 3, seed = 21, on_progress = function() end })
  local sw = bl.sweep{ model = m, data = ds, ber = { 0, 1e-3, 0.1 / 3, 0.2 }, reps = 2, seed = 5 }
  sw:save_csv(dir .. "/rec-sweep.csv")
  local path, n = bl.record.stop()
  lt.eq(path, dir .. "/rec.lua", "stop returns the path")
  lt.ok(n >= 6, "statements recorded")
  return numbers(ev, sw)
end

local function replay()
  local r = dofile(dir .. "/rec.lua")
  local ev, sw
  for k, v in pairs(r) do
    if k:match("^res") then ev = v end
    if k:match("^sw") then sw = v end
  end
  return numbers(ev, sw)
end

if mode == "record" then
  print(record())
elseif mode == "replay" then
  print(replay())
else
  local a = record()
  local text = io.open(dir .. "/rec.lua"):read("a")
  lt.ok(text:find("%-%- betlab " .. bl.version:gsub("%.", "%%.")), "header names the version")
  lt.ok(text:find("checksum %x+"), "header names model checksums")
  lt.ok(text:find("seeds: .*21"), "header names seeds")
  lt.ok(text:find('bl.model.random%("16%-32%-4", 11%)'), "object made before start is recreated")
  lt.ok(text:find("0.033333333333333333"), "floats written exactly")
  lt.ok(text:find(":set_layer_rate%(\"fc2\""), "state change on a fault recorded")
  local b = replay()
  lt.eq(b, a, "replay gives identical numbers")
  lt.done("test_record")
end
