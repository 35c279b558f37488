//! The two librdkafka admin calls rust-rdkafka 0.39 does not wrap, made through any client of a
//! connection (librdkafka runs admin operations on every handle type):
//!
//! - `ListConsumerGroupOffsets`: a group's committed offsets (`FindCoordinator` + `OffsetFetch`),
//!   with the group named in the request, so one client serves every group of a cluster (a
//!   consumer's `committed_offsets` only reads its own `group.id`);
//! - `ListOffsets`: the earliest or latest offset of partitions, batched per partition leader;
//!
//! and the client's main queue ([`drain_errors`]), which rust-rdkafka's admin client never polls.
//!
//! This is the workspace's only `unsafe` code. Every native object is owned by a small guard
//! that destroys it exactly once; each call creates its own result queue, so the client's own
//! queues and threads are never touched, and blocks on that queue at most the call's timeout
//! (run it off the async runtime).
#![allow(
    unsafe_code,
    reason = "FFI to librdkafka admin calls that rust-rdkafka does not wrap"
)]

use std::{
    ffi::{CStr, CString, c_int},
    time::Duration,
};

use rdkafka::{
    ClientContext, bindings as rd, client::Client, error::KafkaError, types::RDKafkaErrorCode,
};

mod main_queue;

pub use main_queue::drain_errors;

/// `RD_KAFKA_OFFSET_INVALID`: the offset of a partition of a `ListConsumerGroupOffsets` request,
/// and the committed offset the broker reports for a partition without a commit.
const OFFSET_INVALID: i64 = -1001;

/// What `ListOffsets` asks for each partition (`rd_kafka_OffsetSpec_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (low watermark).
    Earliest,
    /// The end offset (high watermark; with `read_committed`, the last stable offset).
    Latest,
}

impl OffsetSpec {
    fn native(self) -> i64 {
        match self {
            Self::Earliest => -2,
            Self::Latest => -1,
        }
    }
}

/// One partition of an answer: its offset (`None`: the group has no commit for it), or the error
/// the broker reported for it.
pub type PartitionOffset = (i32, Result<Option<i64>, RDKafkaErrorCode>);

/// The committed offsets of `group` for `partitions` of `topic`, in the answer's order.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    topic: &str,
    partitions: &[i32],
    timeout: Duration,
) -> Result<Vec<PartitionOffset>, KafkaError> {
    let group = c_string(group)?;
    let list = PartitionList::new(topic, partitions, OFFSET_INVALID)?;
    let options = Options::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
        timeout,
    )?;
    let queue = Queue::new(client);
    // SAFETY: `group` and `list` are valid for the call; `_new` copies both. The request array
    // holds one element, as librdkafka requires, and is destroyed after the call, which copies
    // it too (librdkafka's own example does the same).
    unsafe {
        let mut request = [rd::rd_kafka_ListConsumerGroupOffsets_new(
            group.as_ptr(),
            list.0,
        )];
        rd::rd_kafka_ListConsumerGroupOffsets(
            client.native_ptr(),
            request.as_mut_ptr(),
            1,
            options.0,
            queue.0,
        );
        rd::rd_kafka_ListConsumerGroupOffsets_destroy_array(request.as_mut_ptr(), 1);
    }
    let event = queue.wait(timeout)?;
    // SAFETY: `event` lives until the end of this function and owns everything read from it;
    // the result accessors return null for an event of another type, and arrays come with their
    // length.
    unsafe {
        let result = rd::rd_kafka_event_ListConsumerGroupOffsets_result(event.0);
        if result.is_null() {
            return Err(unexpected_event());
        }
        let mut count = 0;
        let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &raw mut count);
        let Some(&group) = slice(groups, count).first() else {
            return Err(unexpected_event());
        };
        let error = rd::rd_kafka_group_result_error(group);
        if !error.is_null() {
            return Err(KafkaError::AdminOp(rd::rd_kafka_error_code(error).into()));
        }
        let answer = rd::rd_kafka_group_result_partitions(group);
        if answer.is_null() {
            return Err(unexpected_event());
        }
        Ok(slice((*answer).elems, (*answer).cnt)
            .iter()
            .filter(|element| name(element.topic) == topic)
            .map(|element| {
                let committed = (element.offset >= 0).then_some(element.offset);
                (element.partition, code(element.err).map(|()| committed))
            })
            .collect())
    }
}

/// The earliest or latest offsets of `partitions` of `topic` (`read_committed`, as the
/// consumers read), in the answer's order.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<Vec<PartitionOffset>, KafkaError> {
    let list = PartitionList::new(topic, partitions, spec.native())?;
    let options = Options::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
        timeout,
    )?;
    // SAFETY: `options` is a valid options object of this operation; the returned error, if
    // any, is ours to destroy.
    unsafe {
        let error = rd::rd_kafka_AdminOptions_set_isolation_level(
            options.0,
            rd::rd_kafka_IsolationLevel_t::RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED,
        );
        if !error.is_null() {
            let code = rd::rd_kafka_error_code(error);
            rd::rd_kafka_error_destroy(error);
            return Err(KafkaError::AdminOpCreation(format!(
                "isolation level refused: {:?}",
                RDKafkaErrorCode::from(code)
            )));
        }
    }
    let queue = Queue::new(client);
    // SAFETY: all arguments are valid for the call, which copies the partition list.
    unsafe {
        rd::rd_kafka_ListOffsets(client.native_ptr(), list.0, options.0, queue.0);
    }
    let event = queue.wait(timeout)?;
    // SAFETY: as in `committed_offsets`: everything read is owned by `event`.
    unsafe {
        let result = rd::rd_kafka_event_ListOffsets_result(event.0);
        if result.is_null() {
            return Err(unexpected_event());
        }
        let mut count = 0;
        let infos = rd::rd_kafka_ListOffsets_result_infos(result, &raw mut count);
        Ok(slice(infos, count)
            .iter()
            .map(|&info| &*rd::rd_kafka_ListOffsetsResultInfo_topic_partition(info))
            .filter(|element| name(element.topic) == topic)
            .map(|element| {
                let offset = (element.offset >= 0).then_some(element.offset);
                (element.partition, code(element.err).map(|()| offset))
            })
            .collect())
    }
}

fn c_string(value: &str) -> Result<CString, KafkaError> {
    CString::new(value)
        .map_err(|_| KafkaError::AdminOpCreation(format!("{value:?} contains a NUL byte")))
}

fn unexpected_event() -> KafkaError {
    KafkaError::AdminOpCreation("librdkafka answered with an unexpected event".to_owned())
}

fn code(err: rd::rd_kafka_resp_err_t) -> Result<(), RDKafkaErrorCode> {
    match RDKafkaErrorCode::from(err) {
        RDKafkaErrorCode::NoError => Ok(()),
        other => Err(other),
    }
}

fn millis(timeout: Duration) -> c_int {
    c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX)
}

/// A native array as a slice (empty for a null pointer).
///
/// SAFETY (callers): `items` points to `count` initialized elements that outlive the slice.
unsafe fn slice<'a, T, N: TryInto<usize>>(items: *const T, count: N) -> &'a [T] {
    let count = count.try_into().unwrap_or(0);
    if items.is_null() || count == 0 {
        return &[];
    }
    // SAFETY: non-null, with `count` elements (the caller's promise).
    unsafe { std::slice::from_raw_parts(items, count) }
}

/// A topic name of an answer (empty for null).
///
/// SAFETY (callers): `topic` is null or a NUL-terminated string that outlives the result.
unsafe fn name<'a>(topic: *const std::ffi::c_char) -> &'a str {
    if topic.is_null() {
        return "";
    }
    // SAFETY: non-null and NUL-terminated (the caller's promise).
    unsafe { CStr::from_ptr(topic) }.to_str().unwrap_or("")
}

/// An owned `rd_kafka_topic_partition_list_t`.
struct PartitionList(*mut rd::rd_kafka_topic_partition_list_t);

impl PartitionList {
    /// `topic`'s `partitions`, each with `offset`.
    fn new(topic: &str, partitions: &[i32], offset: i64) -> Result<Self, KafkaError> {
        let topic = c_string(topic)?;
        let size = c_int::try_from(partitions.len())
            .map_err(|_| KafkaError::AdminOpCreation("too many partitions".to_owned()))?;
        // SAFETY: `_new` returns an owned list (freed by `Drop`); `_add` copies the topic name
        // and returns a pointer to the new element inside the list, valid until the next add.
        unsafe {
            let list = Self(rd::rd_kafka_topic_partition_list_new(size));
            for &partition in partitions {
                let element =
                    rd::rd_kafka_topic_partition_list_add(list.0, topic.as_ptr(), partition);
                (*element).offset = offset;
            }
            Ok(list)
        }
    }
}

impl Drop for PartitionList {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_topic_partition_list_new`, destroyed only here.
        unsafe { rd::rd_kafka_topic_partition_list_destroy(self.0) }
    }
}

/// Owned admin options bounding the request by the timeout.
struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Options {
    fn new<C: ClientContext>(
        client: &Client<C>,
        operation: rd::rd_kafka_admin_op_t,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let mut message = [0 as std::ffi::c_char; 256];
        // SAFETY: the client pointer is valid while `client` is borrowed; the error buffer is
        // writable for its whole length.
        unsafe {
            let options = Self(rd::rd_kafka_AdminOptions_new(
                client.native_ptr(),
                operation,
            ));
            let code = rd::rd_kafka_AdminOptions_set_request_timeout(
                options.0,
                millis(timeout),
                message.as_mut_ptr(),
                message.len(),
            );
            match RDKafkaErrorCode::from(code) {
                RDKafkaErrorCode::NoError => Ok(options),
                _ => Err(KafkaError::AdminOpCreation(
                    CStr::from_ptr(message.as_ptr())
                        .to_string_lossy()
                        .into_owned(),
                )),
            }
        }
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_AdminOptions_new`, destroyed only here.
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

/// An owned result queue of one call.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Queue {
    fn new<C: ClientContext>(client: &Client<C>) -> Self {
        // SAFETY: the client pointer is valid while `client` is borrowed; the queue holds its
        // own reference to the client, so it may outlive the borrow until dropped.
        Self(unsafe { rd::rd_kafka_queue_new(client.native_ptr()) })
    }

    /// The call's result event; `OperationTimedOut` when none came within the timeout (plus a
    /// margin: librdkafka itself answers a request that timed out with an error event).
    fn wait(&self, timeout: Duration) -> Result<Event, KafkaError> {
        // SAFETY: the queue is valid; a returned event is ours to destroy.
        let event = unsafe { rd::rd_kafka_queue_poll(self.0, millis(timeout + timeout / 2)) };
        if event.is_null() {
            return Err(KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut));
        }
        let event = Event(event);
        // SAFETY: the event is valid until dropped.
        let code = unsafe { rd::rd_kafka_event_error(event.0) };
        match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::NoError => Ok(event),
            other => Err(KafkaError::AdminOp(other)),
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_queue_new`, destroyed only here (librdkafka keeps the
        // queue alive by reference count while a late answer is still on its way).
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

/// An owned event (a call's result).
struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: returned by `rd_kafka_queue_poll`, destroyed only here.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

#[cfg(test)]
mod tests;
