"""Independent QuantLib references built straight from QuantLib (not through gpufin)."""
import QuantLib as ql

TODAY = ql.Date(1, 1, 2026)


def bsm_process(spot, vol, rate, dividend=0.0):
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, dividend, dc, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, dc, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, dc)))


def asian(process, average, fixing_days, strike, option, engine, running=None, past=0):
    kind = ql.Option.Call if option == "call" else ql.Option.Put
    avg = ql.Average.Arithmetic if average == "arithmetic" else ql.Average.Geometric
    dates = [TODAY + int(d) for d in fixing_days]
    if running is None:
        running = 0.0 if avg == ql.Average.Arithmetic else 1.0
    opt = ql.DiscreteAveragingAsianOption(avg, running, past, dates,
                                          ql.PlainVanillaPayoff(kind, strike),
                                          ql.EuropeanExercise(dates[-1]))
    opt.setPricingEngine(engine)
    return opt


def arithmetic_mc_engine(process, samples, seed=42):
    return ql.MCDiscreteArithmeticAPEngine(process, "pseudorandom", brownianBridge=False,
                                           antitheticVariate=False, controlVariate=True,
                                           requiredSamples=samples, seed=seed)


def european(process, days, strike, option) -> float:
    """QuantLib's AnalyticEuropeanEngine price of an option expiring `days` days from TODAY."""
    return _vanilla(process, days, strike, option).NPV()


def european_greeks(process, days, strike, option) -> tuple[float, float]:
    """The same engine's delta (per unit of spot) and vega (per 1.00 of volatility)."""
    opt = _vanilla(process, days, strike, option)
    return opt.delta(), opt.vega()


def _vanilla(process, days, strike, option):
    kind = ql.Option.Call if option == "call" else ql.Option.Put
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(kind, strike), ql.EuropeanExercise(TODAY + int(days)))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return opt
