# The scheduler layer's examples: one fiber per connection on every core.
cospace_example(echo_server echo_server.cpp)
cospace_example(http_hello http_hello.cpp)
