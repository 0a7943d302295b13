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
-- train: the same model as the blocking bl.train (tiny data, 1 epoch)
local sub = ds:subset(1, 100)
local tspec = { arch = "16-16-4", data = ds, test = sub, epochs = 1, batch = 32, seed = 3,
                flip = { p = 0.01 }, limit = 200, name = "tiny" }
local tj = bl.job.train(tspec)
lt.ok(tostring(tj):find("^job train"), "tostring(train job)")
local tm = tj:wait()
lt.eq(tj:state(), "done", "train job done")
lt.eq(select(1, tj:progress()), 1.0, "train progress 1 when done")
lt.eq(tj:result(), tm, "train result() is the waited model")
local tdirect = bl.train(tspec)
lt.eq(tm:checksum(), tdirect:checksum(), "bl.job.train identical to bl.train")
lt.eq(tm:meta("name"), "tiny", "trained model name")
lt.eq(tm:meta("test_accuracy"), tdirect:meta("test_accuracy"), "test accuracy in metadata")
lt.ok(tm:eval(sub).accuracy >= 0, "the trained model evaluates")
local tc = bl.job.train{ arch = "16-16-4", data = ds, epochs = 200, batch = 8, seed = 3 }
tc:cancel()
lt.err("cancelled", tc.wait, tc)
lt.eq(tc:state(), "cancelled", "train job cancelled")
lt.err("field 'arch'", bl.job.train, { data = ds })
lt.err("field 'flip'", bl.job.train, { arch = "16-4", data = ds, flip = { p = 2 } })
lt.err("not for jobs", bl.job.train, { arch = "16-4", data = ds, on_epoch = print })
lt.err("bl.job.train:", bl.job.train, { arch = "99-4", data = ds })

-- cluster: the same table as the blocking bl.cluster.exemplar
for _, o in ipairs{ { k = 5, limit = 200, seed = 1 },
                    { k = 4, optimizer = "greedy", precision = "fp64", limit = 150, seed = 2 },
                    { k = 3, device = "reference", limit = 100 } } do
  local want = bl.cluster.exemplar(ds, o)
  local co = { data = ds }
  for key, v in pairs(o) do co[key] = v end
  local cj = bl.job.cluster(co)
  local got = cj:wait()
  lt.eq(got.f, want.f, "bl.job.cluster f")
  lt.eq(table.concat(got.exemplars, ","), table.concat(want.exemplars, ","), "exemplars")
  lt.eq(table.concat(got.f_trace, ","), table.concat(want.f_trace, ","), "f_trace")
  for _, key in ipairs{ "device", "precision", "optimizer", "n", "d" } do
    lt.eq(got[key], want[key], "bl.job.cluster " .. key)
  end
end
lt.err("field 'k'", bl.job.cluster, { data = ds })
lt.err("exceeds the 10 data points", bl.job.cluster, { data = ds, k = 11, limit = 10 })
lt.err("field 'optimizer'", bl.job.cluster, { data = ds, k = 2, optimizer = "best" })
lt.err("field 'data'", bl.job.cluster, { k = 2 })
lt.err("fp64 only", bl.job.cluster, { data = ds, k = 2, device = "reference", precision = "fp32" })
local bad = bl.job.cluster{ data = ds, k = 2, device = "no-such-device" }
lt.err("unknown device 'no-such-device'", bad.wait, bad)
lt.eq(bad:state(), "failed", "a failed device fails the job")
local cc = bl.job.cluster{ data = ds, k = 250, optimizer = "greedy", precision = "fp64" }
cc:cancel()
lt.err("cancelled", cc.wait, cc)

print("bl.job tests passed")
