-- regularizer_tradeoff.lua - clean accuracy against accuracy at BER 0.1
-- for several margin-regularizer weights lambda.
--   betlab run sessions/regularizer_tradeoff.lua [--quick]
-- Trains fc for each lambda on a subset of FashionMNIST (full mode: 10,000
-- training images, 2 epochs, about 20 s per model on 2 cores; the shipped
-- fc-p0 and fc-reg are added when present), evaluates clean and at BER 0.1
-- over 10,000 test images x 5 maps.  Writes regularizer_tradeoff.csv.
-- The long version: set BETLAB_LONG=1 for 60,000 images x 10 epochs.
local bl = require "betlab"
local quick = bl.session.quick()
local long = os.getenv("BETLAB_LONG") == "1"
local train, test
if quick then
  local ok, t = pcall(bl.data.load, "fashion-mnist:train")
  train = ok and t:subset(1, 300) or bl.data.random(300, { seed = 2 })
  test = bl.session.data(true, 200)
else
  train = bl.data.load("fashion-mnist:train")
  if not long then train = train:subset(1, 10000) end
  test = bl.data.load("fashion-mnist:test")
end
local lambdas = quick and { 0, 0.5 } or { 0, 0.05, 0.1, 0.2, 0.5 }
local rows = {}
local function measure(name, lambda, m)
  local sw = bl.sweep{ model = m, data = test, ber = { 0, 0.1 }, reps = quick and 2 or 5, seed = 1 }
  local r = sw:rows()
  rows[#rows + 1] = { model = name, lambda = lambda, clean = r[1].accuracy, ber01 = r[2].accuracy,
                      ci_low = r[2].ci_low, ci_high = r[2].ci_high }
  print(string.format("%-22s lambda %-5g clean %.4f  BER 0.1 %.4f [%.4f, %.4f]", name, lambda,
                      r[1].accuracy, r[2].accuracy, r[2].ci_low, r[2].ci_high))
end
for _, lambda in ipairs(lambdas) do
  local m = bl.train{ arch = quick and "784-64-10" or "fc", data = train,
                      epochs = quick and 1 or (long and 10 or 2), seed = 1,
                      reg = { margin = lambda, b = 1 }, name = "fc-lambda" .. lambda }
  measure("trained lambda=" .. lambda, lambda, m)
end
for _, n in ipairs{ "fc-p0", "fc-reg" } do
  local ok, m = pcall(bl.model.load, n)
  if ok then measure("shipped " .. n, n == "fc-reg" and 0.2 or 0, m) end
end
bl.csv.write("regularizer_tradeoff.csv", { "model", "lambda", "clean", "ber01", "ci_low", "ci_high" }, rows)
local x, y = {}, {}
for i, r in ipairs(rows) do x[i], y[i] = r.clean, r.ber01 end
print(bl.plot.curve(x, y, { title = "accuracy at BER 0.1 against clean accuracy",
                            xlabel = "clean accuracy", ylabel = "accuracy at BER 0.1" }))
print("wrote regularizer_tradeoff.csv")
