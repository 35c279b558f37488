//! The client's main queue, where librdkafka puts its client-level errors (a refused SASL
//! login, a failed TLS handshake, all brokers down) and its log lines: rust-rdkafka's admin
//! client never polls it, so its errors would go unseen and its events pile up.

use std::ffi::CStr;

use eventflow_contract::outage::Outage;
use rdkafka::{ClientContext, bindings as rd, client::Client, types::RDKafkaErrorCode};

use super::{Event, Queue};

/// Takes every event waiting on the client's main queue without waiting: log lines go to
/// `outage` ([`log`]), errors are returned with librdkafka's text, in order.
pub fn drain_errors<C: ClientContext>(
    client: &Client<C>,
    outage: &Outage,
) -> Vec<(RDKafkaErrorCode, String)> {
    // SAFETY: the client pointer is valid while borrowed; `rd_kafka_queue_get_main` returns a
    // new reference to the main queue, which `Queue` releases on drop.
    let queue = Queue(unsafe { rd::rd_kafka_queue_get_main(client.native_ptr()) });
    let mut errors = Vec::new();
    loop {
        // SAFETY: the queue is valid; a returned event is ours, destroyed by `Event`'s drop.
        let event = unsafe { rd::rd_kafka_queue_poll(queue.0, 0) };
        if event.is_null() {
            return errors;
        }
        let event = Event(event);
        // SAFETY: the event is valid until dropped; the strings it hands out live as long.
        match unsafe { rd::rd_kafka_event_type(event.0) } {
            rd::RD_KAFKA_EVENT_ERROR => unsafe {
                let code = RDKafkaErrorCode::from(rd::rd_kafka_event_error(event.0));
                errors.push((code, text(rd::rd_kafka_event_error_string(event.0))));
            },
            rd::RD_KAFKA_EVENT_LOG => unsafe { log(&event, outage) },
            _ => {}
        }
    }
}

/// Forwards a log event: librdkafka's syslog levels 0-4 (error and warning) as failures of the
/// connection (`outage`, which bounds their lines), the rest as debug lines.
unsafe fn log(event: &Event, outage: &Outage) {
    let (mut facility, mut message, mut level) = (std::ptr::null(), std::ptr::null(), 0);
    // SAFETY: the event is a log event; the strings live as long as it.
    if unsafe {
        rd::rd_kafka_event_log(event.0, &raw mut facility, &raw mut message, &raw mut level)
    } != 0
    {
        return;
    }
    let (facility, message) = unsafe { (text(facility), text(message)) };
    if level <= 4 {
        outage.failed(&format!("librdkafka {facility}: {message}"));
    } else {
        tracing::debug!(target: "librdkafka", %facility, "{message}");
    }
}

/// A C string of librdkafka's as an owned string (empty for null).
unsafe fn text(pointer: *const std::ffi::c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: librdkafka's strings are NUL-terminated and valid while their event lives.
    unsafe { CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}
