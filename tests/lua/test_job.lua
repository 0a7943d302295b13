-- bl.job: background eval, sweep and metrics jobs give exactly the results
-- of the blocking calls; progress, cancel, wait, result; the job keeps its
-- own model copy, so closing the Lua model while it runs is harmless.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local lt = require "lt"
local bl = require "betlab"
local dir = lt.tmpdir()
local ds = bl.data.load(lt.write_csv(dir .. "/d.csv", 300, 16, 4))
local m = bl.model.random("16-24-20-4", 5)

-- sweep: same rows as bl.sweep
local spec = { model = m, data = ds, ber = { 0, 0.01, 0.05, 0.2 }, reps = 4, seed = 2 }
local j = bl.job.sweep(spec)
lt.ok(tostring(j):find("^job sweep"), "tostring(job)")
local st = j:state()
lt.ok(st == "running" or st == "done", "state while running")
local f, msg = j:progress()
lt.ok(type(f) == "number" and f >= 0 and f <= 1 and type(msg) == "string", "progress")
local sw = j:wait()
lt.eq(j:state(), "done", "state after wait")
lt.eq(select(1, j:progress()), 1.0, "progress 1 when done")
lt.eq(j:result(), sw, "result() is the waited result")
local direct = bl.sweep(spec)
lt.eq(#sw, #direct, "rows")
for i, r in ipairs(sw:rows()) do
  local d = direct:rows()[i]
  lt.ok(r.accuracy == d.accuracy and r.ci_low == d.ci_low and r.ci_high == d.ci_high,
        "sweep row " .. i .. " identical to bl.sweep")
end

-- eval: same table as m:eval; closing the model meanwhile is harmless
local opts = { fault = "bitflip:p=0.05;fc1.activations=bitflip:p=0.01", reps = 5, seed = 7 }
local want = m:eval(ds, opts)
local m2 = m:clone()
local e = bl.job.eval(m2, ds, opts)
m2:close()
collectgarbage()
local got = e:wait()
lt.ok(got.accuracy == want.accuracy and got.ci_low == want.ci_low and got.ci_high == want.ci_high,
      "bl.job.eval identical to m:eval")
lt.eq(got.ci_method, want.ci_method, "ci_method")
lt.eq(got.reps, 5, "reps")

-- metrics: the table of `betlab metrics --json`
local mj = bl.job.metrics(m, ds, { layer = "fc2", ber = 0.02, reps = 2 })
local x = mj:wait()
lt.eq(#x.layers, 1, "one layer")
lt.eq(x.layers[1].name, "fc2", "layer name")
local h = m:margins(ds, { layer = "fc2" }):summary()
lt.eq(x.layers[1].margin.mean, h.mean, "margins identical to m:margins")
lt.ok(x.layers[1].flip_fraction.analytic >= 0, "analytic flip fraction")
lt.ok(x.layers[1].importance.variance >= 0, "importance")

-- cancel, errors as data
local c = bl.job.sweep{ model = m, data = ds, ber = "1e-4:0.5:40", reps = 200 }
c:cancel()
lt.err("cancelled", c.wait, c)
lt.eq(c:state(), "cancelled", "state cancelled")
lt.err("unknown layer 'fc9'", bl.job.eval, m, ds, { fault = "fc9=bitflip:p=0.1" })
lt.err("BER 2 outside [0, 1]", bl.job.sweep, { model = m, data = ds, ber = { 2 } })
lt.err("reps -3 outside", bl.job.eval, m, ds, { fault = "bitflip:p=0.1", reps = -3 })
lt.err("on_progress", bl.job.sweep, { model = m, data = ds, ber = { 0 }, on_progress = print })
lt.err("field 'importance'", bl.job.metrics, m, ds, { importance = "x" })

-- a handle closes (cancelling its job) with <close> and __gc
do
  local k <close> = bl.job.sweep{ model = m, data = ds, ber = "1e-4:0.5:40", reps = 200 }
end
lt.err("job is closed", function() local k = bl.job.eval(m, ds); k:close(); return k:state() end)
print("bl.job tests passed")
