-- POST a 1 KB urlencoded form of 40 fields to /form on every request.
-- The body is a literal so wrk sends exactly these bytes; it must equal
-- bench/servers/scenarios.py:form_body() (tests/test_bench_harness.py checks).
-- Use: wrk -t1 -c32 -d5s --latency -s bench/wrk/form.lua http://127.0.0.1:8000
wrk.method = "POST"
wrk.path = "/form"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "f01=hello+world%21+abc-01&f02=hello+world%21+abc-02&f03=hello+world%21+abc-03&f04=hello+world%21+abc-04&f05=hello+world%21+abc-05&f06=hello+world%21+abc-06&f07=hello+world%21+abc-07&f08=hello+world%21+abc-08&f09=hello+world%21+abc-09&f10=hello+world%21+abc-10&f11=hello+world%21+abc-11&f12=hello+world%21+abc-12&f13=hello+world%21+abc-13&f14=hello+world%21+abc-14&f15=hello+world%21+abc-15&f16=hello+world%21+abc-16&f17=hello+world%21+abc-17&f18=hello+world%21+abc-18&f19=hello+world%21+abc-19&f20=hello+world%21+abc-20&f21=hello+world%21+abc-21&f22=hello+world%21+abc-22&f23=hello+world%21+abc-23&f24=hello+world%21+abc-24&f25=hello+world%21+abc-25&f26=hello+world%21+abc-26&f27=hello+world%21+abc-27&f28=hello+world%21+abc-28&f29=hello+world%21+abc-29&f30=hello+world%21+abc-30&f31=hello+world%21+abc-31&f32=hello+world%21+abc-32&f33=hello+world%21+abc-33&f34=hello+world%21+abc-34&f35=hello+world%21+abc-35&f36=hello+world%21+abc-36&f37=hello+world%21+abc-37&f38=hello+world%21+abc-38&f39=hello+world%21+abc-39&f40=hello+world%21+abc-40"
