//! The directory queue across processes: two `crashctl process` consumers on one queue.

use std::collections::HashSet;

use crate::common::*;
use crashctl::queue::{CrashQueue, DirQueue, Message, QueueName};

#[test]
fn two_processes_claiming_concurrently_get_each_message_exactly_once() {
    let env = TestEnv::new();
    let store = env.store().display().to_string();
    let queue = env.queue().display().to_string();
    let o = env.run(&["generate", "-n", "150", "--seed", "11", "--store", &store]);
    assert_code(&o, 0);
    let ids: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let q = DirQueue::open(env.queue(), true).unwrap();
    let msgs: Vec<Message> = ids.iter().map(|i| Message::parse(i).unwrap().unwrap()).collect();
    q.publish(QueueName::Standard, &msgs).unwrap();

    let args = ["process", "--store", &store, "--queue", &queue, "-j", "1", "--format", "json", "--quiet"];
    let consumers: Vec<_> =
        (0..2).map(|_| env.cmd(&args).stdout(std::process::Stdio::piped()).spawn().expect("spawn consumer")).collect();
    let outputs: Vec<_> = consumers.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let mut seen = Vec::new();
    for o in &outputs {
        assert_code(o, 0);
        for line in json_lines(o) {
            assert_eq!(line["status"], "ok", "{line}");
            seen.push(line["id"].as_str().unwrap().to_string());
        }
    }
    assert!(outputs.iter().all(|o| !json_lines(o).is_empty()), "both consumers took part");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), ids.len(), "no message was processed twice");
    assert_eq!(unique, ids.iter().collect::<HashSet<_>>(), "every message was processed");
    for d in q.depths().unwrap() {
        assert_eq!((d.pending, d.claimed, d.failed), (0, 0, 0), "{d:?}");
    }
}
