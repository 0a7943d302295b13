-- demo.lua - a two-minute guided tour of betlab for a talk.
--   betlab run sessions/demo.lua [--quick]
-- Loads a shipped model, evaluates it, injects bit flips, sweeps the bit
-- error rate with confidence intervals, looks at margins, and records the
-- whole session so that it can be replayed (demo-record.lua).
local bl = require "betlab"
local quick = bl.session.quick()
local function say(fmt, ...) print(string.format(fmt, ...)) end
local function pause() if not quick and os.getenv("BETLAB_DEMO_FAST") ~= "1" then
  os.execute("sleep 2") end end

say("== betlab %s: bit error tolerance of binarized neural networks ==\n", bl.version)
bl.record.start("demo-record.lua")
local m = bl.session.models({ "fc-p0.1" }, quick)[1].model
say("1. A BNN trained with bit flips (p_train = 0.1):\n   %s", tostring(m))
for _, l in ipairs(m:layers()) do
  if l.rows then say("   %-6s %5d neurons x %5d inputs, %8d stored bits", l.name, l.rows, l.cols,
                     l.stored_bits) end
end
pause()
local ds = bl.session.data(quick, quick and 300 or 10000)
local r = m:eval(ds)
say("\n2. Clean accuracy on %d test images: %.4f (95%% CI %.4f-%.4f), %.0f images/s",
    r.images, r.accuracy, r.ci_low, r.ci_high, r.images_per_s)
pause()
local f = bl.fault.new{ kind = "bitflip", p = 0.05 }
r = m:eval(ds, { fault = f, reps = 5, seed = 1 })
say("\n3. With %s on the stored weights, 5 fault maps: %.4f [%.4f, %.4f]", f:text(), r.accuracy,
    r.ci_low, r.ci_high)
pause()
say("\n4. Accuracy over the bit error rate (coupled fault maps: monotone per seed):")
local sw = bl.sweep{ model = m, data = ds, ber = { 0, 0.02, 0.05, 0.1, 0.15, 0.2 },
                     reps = quick and 2 or 5, seed = 1 }
print(sw:plot())
sw:save_csv("demo-sweep.csv")
pause()
local h = m:margins(ds:subset(1, math.min(#ds, 500)), { layer = "fc2" })
local s = h:summary()
say("5. Margins of fc2: mean %.1f; %.2f%% of neuron outputs flip with a single weight flip",
    s.mean, 100 * s.flips_le[1])
print(h:plot({ bars = 10, width = 40 }))
local fp = m:flip_probability(ds:subset(1, math.min(#ds, 500)), 0.05, { layer = "fc2" })
say("6. Predicted fraction of flipped fc2 outputs at BER 0.05 (analytic, no injection): %.4f",
    fp.analytic or 0 / 0)
local path = bl.record.stop()
say("\n7. Everything above was recorded to %s; replay it with `betlab run %s`.", path, path)
say("   Sweep results: demo-sweep.csv")
