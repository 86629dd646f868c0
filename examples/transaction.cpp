// examples/transaction.cpp — a transfer between two accounts with optimistic locking: WATCH both balances, read
// them, queue the new values, EXEC; a concurrent write makes EXEC return nil and the transfer is tried again.
// Both keys carry the hash tag {bank}, so they share a slot and one node runs the whole transaction.
//
// usage: transaction --seed HOST:PORT --cacert FILE --hostname NAME
#include <addrmap/addrmap.hpp>

#include <hiredis/hiredis.h>

#include <iostream>
#include <string>

#include "example_flags.hpp"

namespace {

constexpr const char* usage = "usage: transaction --seed HOST:PORT --cacert FILE --hostname NAME\n";

long long as_number(const addrmap::reply_ptr& r) { return r && r->type == REDIS_REPLY_STRING ? std::stoll(r->str) : 0; }

}  // namespace

int main(int argc, char** argv) {
    const auto flags = example::parse_cluster_flags(argc, argv, {"--hostname"}, {}, usage);
    if (!flags) return 2;
    try {
        addrmap::ip_to_hostname_cluster cluster(flags->options, addrmap::ip_to_hostname(flags->at("--hostname")));
        cluster.connect();
        // Commands routed by their own keys: no separate key argument.
        cluster.call("MSET %s %s %s %s", "{bank}alice", "100", "{bank}bob", "0");

        int attempt = 0;
        bool aborted_once = false;
        while (true) {
            ++attempt;
            addrmap::transaction tx = cluster.begin_transaction("{bank}");  // the slot owner's connection, held
            tx.watch({"{bank}alice", "{bank}bob"});
            const long long alice = as_number(tx.command("GET %s", "{bank}alice"));
            const long long bob = as_number(tx.command("GET %s", "{bank}bob"));
            // Someone else pays alice 5 meanwhile (on another connection): the first attempt must see its WATCH fire.
            if (attempt == 1) cluster.call("INCRBY %s %s", "{bank}alice", "5");
            tx.queue("SET %s %s", "{bank}alice", std::to_string(alice - 30).c_str());
            tx.queue("SET %s %s", "{bank}bob", std::to_string(bob + 30).c_str());
            const addrmap::reply_ptr result = tx.exec();
            if (result->type == REDIS_REPLY_NIL) {  // a watched key changed: nothing ran, try again
                std::cout << "attempt " << attempt << " on slot " << tx.slot() << " at " << tx.node()
                          << ": EXEC returned nil (a WATCHed balance changed), nothing was written\n";
                aborted_once = true;
                continue;
            }
            if (result->type != REDIS_REPLY_ARRAY) {
                std::cout << "FAILED: EXEC answered " << (result->str ? result->str : "?") << "\n";
                return 1;
            }
            break;
        }
        const addrmap::reply_ptr balances = cluster.call("MGET %s %s", "{bank}alice", "{bank}bob");
        const std::string a(balances->element[0]->str), b(balances->element[1]->str);
        if (!aborted_once || a != "75" || b != "30") {
            std::cout << "FAILED: balances " << a << "/" << b << " after " << attempt << " attempt(s)\n";
            return 1;
        }
        std::cout << "OK: attempt 1 aborted by a concurrent write, attempt " << attempt
                  << " committed: alice " << a << ", bob " << b << "\n";
        return 0;
    } catch (const addrmap::error& e) {
        // error_kind::topology here means the slot moved during the transaction: nothing committed, retry it.
        std::cout << "FAILED: " << e.what() << "\n";
        return 1;
    }
}
