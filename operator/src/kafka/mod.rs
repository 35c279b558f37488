pub mod lag;
