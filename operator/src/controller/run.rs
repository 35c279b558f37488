//! placeholder
pub async fn run(_args: crate::cli::RunArgs) -> crate::Result<()> {
    Err(crate::Error::NotYet("the controller"))
}
